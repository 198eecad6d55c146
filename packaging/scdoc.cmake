# cmake -DSCDOC=scdoc -DINPUT=page.8.scd -DOUTPUT=page.8 -P scdoc.cmake
# Renders one scdoc source to roff. scdoc dates the page by SOURCE_DATE_EPOCH;
# without it in the environment, the source's modification time is used, not
# the build time. The page is installed uncompressed; the Debian package
# compresses it (dh_installman, dh_compress).
if(NOT DEFINED ENV{SOURCE_DATE_EPOCH})
  file(TIMESTAMP "${INPUT}" epoch "%s" UTC)
  set(ENV{SOURCE_DATE_EPOCH} "${epoch}")
endif()
get_filename_component(dir "${OUTPUT}" DIRECTORY)
file(MAKE_DIRECTORY "${dir}")
execute_process(COMMAND "${SCDOC}" INPUT_FILE "${INPUT}" OUTPUT_FILE "${OUTPUT}"
                RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  file(REMOVE "${OUTPUT}")
  message(FATAL_ERROR "scdoc failed on ${INPUT}")
endif()

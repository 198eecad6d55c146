# cmake -DSCDOC=scdoc -DGZIP=gzip -DINPUT=page.8.scd -DOUTPUT=page.8.gz -P scdoc.cmake
# Renders one scdoc source and gzips it reproducibly (gzip -n: no name, no
# time). scdoc dates the page by SOURCE_DATE_EPOCH; without it in the
# environment, the source's modification time is used, not the build time.
if(NOT DEFINED ENV{SOURCE_DATE_EPOCH})
  file(TIMESTAMP "${INPUT}" epoch "%s" UTC)
  set(ENV{SOURCE_DATE_EPOCH} "${epoch}")
endif()
string(REGEX REPLACE "\\.gz$" "" roff "${OUTPUT}")
get_filename_component(dir "${OUTPUT}" DIRECTORY)
file(MAKE_DIRECTORY "${dir}")
execute_process(COMMAND "${SCDOC}" INPUT_FILE "${INPUT}" OUTPUT_FILE "${roff}"
                RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  file(REMOVE "${roff}")
  message(FATAL_ERROR "scdoc failed on ${INPUT}")
endif()
execute_process(COMMAND "${GZIP}" -9 -n -f "${roff}" RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "gzip failed on ${roff}")
endif()

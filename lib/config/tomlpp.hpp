// toml++ as lib/config uses it: header-only and without exceptions (the shared
// libtomlplusplus is built with exceptions, and nothing in the loader may
// throw). Every file of lib/config includes toml++ through this header only,
// so all of them compile its inline functions with the same settings.
#pragma once

#define TOML_HEADER_ONLY 1
#define TOML_EXCEPTIONS 0
// toml++ 3.3 asserts, and under clang with NDEBUG assumes, that a table header
// starts with a key: a file containing "[#" or "[[[" aborts a debug build or
// is undefined behaviour (fixed upstream in marzer/tomlplusplus#301). With
// both turned off the parser reports it as an ordinary syntax error.
#define TOML_ASSERT(expr) static_assert(true)
#include <toml++/impl/preprocessor.h>
#undef TOML_ASSUME
#define TOML_ASSUME(...) static_assert(true)
#include <toml++/toml.h>

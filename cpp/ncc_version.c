#define NCC_BUILDING_RUNTIME
#include "ncc_runtime.h"

NCC_API const char* ncc_runtime_version(void) { return NCC_RUNTIME_VERSION; }

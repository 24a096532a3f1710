/*
 * ncc_runtime.h - the public C ABI of numba-cfunc-compiler's runtime (libnumba_rt).
 *
 * Every exported function is prefixed ncc_, every macro NCC_.
 *
 * ABI rules for compiled nodes
 * ----------------------------
 * Value cells are 8 bytes wide, whatever the Python type:
 *   int                  -> int64_t
 *   float                -> double
 *   bool                 -> int8_t in the low byte (the other 7 bytes are unspecified)
 *   datetime / timedelta -> int64_t nanoseconds (since the Unix epoch / duration)
 *   enum                 -> its integer value (int64_t)
 *   container            -> pointer to a runtime-owned object
 *
 * outputs[i]       host-owned cell; a node that produces output i writes the cell and sets
 *                  output_ticked[i] = 1. The host clears every output_ticked entry before each
 *                  NCC_EXECUTE call.
 * state[i]         host-owned cell, zero-filled by the host before NCC_START. NCC_START
 *                  initialises every scalar state cell and allocates every container, so
 *                  zeroed memory is all the host has to provide.
 * NCC_STOP         frees the containers and sets their cells to NULL. Calling NCC_STOP twice, or
 *                  NCC_EXECUTE after NCC_STOP, must be safe: no crash, no use of freed memory.
 *
 * Runtime faults (missing key, bad index, pop from empty, raised exception, bad lifecycle,
 * allocation failure, division by zero, invalid float-to-int conversion, int ** negative int,
 * datetime/float overflow) do not unwind: the node records them with ncc_error_set() in a
 * thread-local record and returns. The first fault wins until ncc_error_clear(). The host
 * must check ncc_error_code() after a call and discard the outputs of a faulting call.
 */
#ifndef NCC_RUNTIME_H
#define NCC_RUNTIME_H

#include <stdint.h>

#if defined(_WIN32)
/* The runtime's own sources define NCC_BUILDING_RUNTIME; consumers import. */
#  if defined(NCC_BUILDING_RUNTIME)
#    define NCC_API __declspec(dllexport)
#  else
#    define NCC_API __declspec(dllimport)
#  endif
#elif defined(__GNUC__) || defined(__clang__)
/* The library is built with -fvisibility=hidden: only NCC_API symbols are exported. */
#  define NCC_API __attribute__((visibility("default")))
#else
#  define NCC_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* lifecycle_phase values */
enum { NCC_EXECUTE = 0, NCC_START = 1, NCC_STOP = 2 };

/* Base signature of every compiled node. Extension categories append parameters after
 * lifecycle_phase (the reference host appends void** inputs, int8_t* input_ticked,
 * int8_t* input_valid: see ncc_host_node_fn). */
typedef void (*ncc_node_fn)(void** outputs, int8_t* output_ticked, void** state,
                            int8_t lifecycle_phase);
typedef void (*ncc_host_node_fn)(void** outputs, int8_t* output_ticked, void** state,
                                 int8_t lifecycle_phase, void** inputs, int8_t* input_ticked,
                                 int8_t* input_valid);

/* ---- error record (thread-local) ---------------------------------------------------------- */

enum ncc_error_code {
    NCC_OK = 0,
    NCC_ERR_KEY = 1,       /* missing dict key */
    NCC_ERR_INDEX = 2,     /* index out of range */
    NCC_ERR_EMPTY = 3,     /* pop/peek on an empty container */
    NCC_ERR_EXCEPTION = 4, /* an exception raised by user code */
    NCC_ERR_STATE = 5,     /* lifecycle misuse */
    NCC_ERR_ALLOC = 6,     /* allocation failure */
    NCC_ERR_DIVISION_BY_ZERO = 7,   /* / // % divmod by zero; 0.0 ** negative */
    NCC_ERR_INVALID_CONVERSION = 8, /* float -> int of NaN, +-inf or a value outside int64 */
    NCC_ERR_NEGATIVE_POWER = 9,     /* int ** negative int */
    NCC_ERR_OVERFLOW = 10           /* datetime/timedelta result outside int64 ns; float ** overflow */
};

/* Size of the message buffer, including the terminating NUL; longer messages are truncated. */
#define NCC_ERROR_MESSAGE_MAX 256
/* Size of the entry-point name buffer, including the terminating NUL. */
#define NCC_ERROR_ENTRY_MAX 128

/* Record a fault on the calling thread. Does nothing if an error is already pending (first
 * fault wins) or if code is NCC_OK. message and entry may be NULL (stored as ""); longer
 * strings are truncated to fit their buffers. */
NCC_API void ncc_error_set(int32_t code, const char* message, const char* entry);
NCC_API int32_t ncc_error_code(void);        /* NCC_OK when no error is pending */
NCC_API const char* ncc_error_message(void); /* "" when none; valid until next set/clear on this thread */
NCC_API const char* ncc_error_entry(void);   /* entry-point name, or "" */
NCC_API void ncc_error_clear(void);

/* ---- containers --------------------------------------------------------------------------- */
/* The typed list and hash dict over 8-byte elements: layouts, invariants and API. */
#include "ncc_containers.h"

/* ---- version ------------------------------------------------------------------------------ */

/* Equal to numba_cfunc_compiler.__version__, the package version (tests/test_packaging.py checks). */
#define NCC_RUNTIME_VERSION "0.1.0"
NCC_API const char* ncc_runtime_version(void); /* NCC_RUNTIME_VERSION of the loaded library */

#ifdef __cplusplus
}
#endif

#endif /* NCC_RUNTIME_H */

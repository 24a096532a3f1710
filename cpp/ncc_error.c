/* Thread-local error record: compiled nodes report faults here instead of unwinding. */
#define NCC_BUILDING_RUNTIME
#include "ncc_runtime.h"

#include <stddef.h>

#if defined(_MSC_VER) && !defined(__clang__)
#  define NCC_THREAD_LOCAL __declspec(thread)
#else
#  define NCC_THREAD_LOCAL _Thread_local
#endif

/* Fixed buffers, so setting an error never allocates (it may be reporting NCC_ERR_ALLOC). */
typedef struct {
    int32_t code;
    char message[NCC_ERROR_MESSAGE_MAX];
    char entry[NCC_ERROR_ENTRY_MAX];
} ncc_error_record;

static NCC_THREAD_LOCAL ncc_error_record record; /* zero-initialised: NCC_OK, "", "" */

/* Copy src (NULL means "") into dst, truncating so the result is always NUL-terminated. */
static void copy_bounded(char* dst, size_t size, const char* src) {
    size_t i = 0;
    if (src != NULL) {
        for (; i + 1 < size && src[i] != '\0'; ++i) dst[i] = src[i];
    }
    dst[i] = '\0';
}

NCC_API void ncc_error_set(int32_t code, const char* message, const char* entry) {
    /* First fault wins; NCC_OK is not a fault (recording it would leave a message with no error). */
    if (record.code != NCC_OK || code == NCC_OK) return;
    record.code = code;
    copy_bounded(record.message, sizeof record.message, message);
    copy_bounded(record.entry, sizeof record.entry, entry);
}

NCC_API int32_t ncc_error_code(void) { return record.code; }

NCC_API const char* ncc_error_message(void) { return record.message; }

NCC_API const char* ncc_error_entry(void) { return record.entry; }

NCC_API void ncc_error_clear(void) {
    record.code = NCC_OK;
    record.message[0] = '\0';
    record.entry[0] = '\0';
}

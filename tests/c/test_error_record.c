/* Exercises the thread-local error record through the public header and the shared library.
 * Built and run by tests/test_runtime_c.py (also under valgrind); exit status 0 means pass. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "ncc_runtime.h"

static int failures = 0;

#define CHECK(cond)                                                      \
    do {                                                                 \
        if (!(cond)) {                                                   \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__,     \
                    __LINE__, #cond);                                    \
            ++failures;                                                  \
        }                                                                \
    } while (0)

static void test_set_read_clear(void) {
    CHECK(ncc_error_code() == NCC_OK);
    CHECK(strcmp(ncc_error_message(), "") == 0);
    CHECK(strcmp(ncc_error_entry(), "") == 0);

    ncc_error_set(NCC_ERR_KEY, "missing key 3", "node_a");
    CHECK(ncc_error_code() == NCC_ERR_KEY);
    CHECK(strcmp(ncc_error_message(), "missing key 3") == 0);
    CHECK(strcmp(ncc_error_entry(), "node_a") == 0);

    ncc_error_clear();
    CHECK(ncc_error_code() == NCC_OK);
    CHECK(strcmp(ncc_error_message(), "") == 0);
    CHECK(strcmp(ncc_error_entry(), "") == 0);
}

static void test_first_fault_wins(void) {
    ncc_error_set(NCC_ERR_INDEX, "first", "a");
    ncc_error_set(NCC_ERR_EMPTY, "second", "b");
    CHECK(ncc_error_code() == NCC_ERR_INDEX);
    CHECK(strcmp(ncc_error_message(), "first") == 0);
    CHECK(strcmp(ncc_error_entry(), "a") == 0);
    ncc_error_clear();

    ncc_error_set(NCC_OK, "not a fault", "x"); /* ignored */
    CHECK(ncc_error_code() == NCC_OK);
    CHECK(strcmp(ncc_error_message(), "") == 0);
    ncc_error_set(NCC_ERR_EMPTY, "after clear", "b");
    CHECK(ncc_error_code() == NCC_ERR_EMPTY);
    CHECK(strcmp(ncc_error_message(), "after clear") == 0);
    ncc_error_clear();
}

static void test_truncation(void) {
    char message[1001];
    char entry[300];
    memset(message, 'm', sizeof message - 1);
    message[sizeof message - 1] = '\0';
    memset(entry, 'e', sizeof entry - 1);
    entry[sizeof entry - 1] = '\0';

    ncc_error_set(NCC_ERR_EXCEPTION, message, entry);
    CHECK(ncc_error_code() == NCC_ERR_EXCEPTION);
    CHECK(strlen(ncc_error_message()) == NCC_ERROR_MESSAGE_MAX - 1);
    CHECK(strncmp(ncc_error_message(), message, NCC_ERROR_MESSAGE_MAX - 1) == 0);
    CHECK(strlen(ncc_error_entry()) == NCC_ERROR_ENTRY_MAX - 1);
    ncc_error_clear();
}

static void test_null_strings(void) {
    ncc_error_set(NCC_ERR_STATE, NULL, NULL);
    CHECK(ncc_error_code() == NCC_ERR_STATE);
    CHECK(strcmp(ncc_error_message(), "") == 0);
    CHECK(strcmp(ncc_error_entry(), "") == 0);
    ncc_error_clear();
}

static void* thread_body(void* arg) {
    int* seen_clean = arg;
    *seen_clean = ncc_error_code() == NCC_OK; /* a new thread starts with no error */
    ncc_error_set(NCC_ERR_ALLOC, "from thread", "worker");
    return NULL;
}

static void test_per_thread(void) {
    int seen_clean = 0;
    pthread_t thread;
    ncc_error_set(NCC_ERR_KEY, "main", "main"); /* must not leak into the new thread */
    CHECK(pthread_create(&thread, NULL, thread_body, &seen_clean) == 0);
    CHECK(pthread_join(thread, NULL) == 0);
    CHECK(seen_clean);
    CHECK(ncc_error_code() == NCC_ERR_KEY); /* the thread's error stays in the thread */
    CHECK(strcmp(ncc_error_message(), "main") == 0);
    ncc_error_clear();

    CHECK(pthread_create(&thread, NULL, thread_body, &seen_clean) == 0);
    CHECK(pthread_join(thread, NULL) == 0);
    CHECK(ncc_error_code() == NCC_OK);
}

int main(void) {
    test_set_read_clear();
    test_first_fault_wins();
    test_truncation();
    test_null_strings();
    test_per_thread();
    CHECK(strcmp(ncc_runtime_version(), NCC_RUNTIME_VERSION) == 0);
    if (failures) {
        fprintf(stderr, "%d check(s) failed\n", failures);
        return 1;
    }
    return 0;
}

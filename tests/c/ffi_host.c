/* Host functions that tests/test_ffi.py calls from compiled nodes through FFIFunction.
 * Built with `cc -shared -fPIC -O2` by the test module and loaded with
 * llvmlite.binding.load_library_permanently, as a host application would load its own library. */
#include <stdint.h>

/* An order book the host owns; nodes receive a pointer to it. */
typedef struct {
    double bid_px[4];
    double ask_px[4];
    int64_t depth;
} ncc_test_book;

/* The acceptance example's fee: 10 basis points of the notional. */
double ncc_test_fee(double notional) { return notional * 0.001; }

int64_t ncc_test_ffi_add_i64(int64_t a, int64_t b) { return a + b; }

double ncc_test_ffi_scale(double x, double k) { return x * k; }

double ncc_test_ffi_mixed(int64_t n, double x) { return (double)n * x - 0.5; }

int64_t ncc_test_ffi_floor_div(double x, int64_t d) { return (int64_t)(x / (double)d); }

/* Best bid: the highest of the first `depth` bid levels (0.0 for an empty book). */
double ncc_test_book_best_bid(const void* book) {
    const ncc_test_book* b = (const ncc_test_book*)book;
    double best = 0.0;
    for (int64_t i = 0; i < b->depth && i < 4; i++) {
        if (i == 0 || b->bid_px[i] > best) best = b->bid_px[i];
    }
    return best;
}

/* Mid price from the first level of each side. */
double ncc_test_book_mid(const void* book) {
    const ncc_test_book* b = (const ncc_test_book*)book;
    return 0.5 * (b->bid_px[0] + b->ask_px[0]);
}

/* A function with a side effect: it must never be merged or hoisted. */
static int64_t ncc_test_counter = 0;

int64_t ncc_test_ffi_bump(int64_t by) {
    ncc_test_counter += by;
    return ncc_test_counter;
}

int64_t ncc_test_ffi_counter(void) { return ncc_test_counter; }

void ncc_test_ffi_counter_reset(void) { ncc_test_counter = 0; }

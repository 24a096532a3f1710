/*
 * Host functions called from compiled nodes (examples/ffi_host.py builds this file into a shared
 * library with `cc -O2 -shared -fPIC` and declares each function with an FFIFunction).
 *
 * book_mid and book_imbalance only read memory and have no side effects: they are declared
 * pure=True, so LLVM may call them once for several identical calls. record_signal has a side
 * effect (it appends to a log the host reads back): it is declared pure=False.
 */
#include <stdint.h>

/* Same layout as the ctypes.Structure `Book` in ffi_host.py. */
typedef struct {
    double bid;
    double ask;
    int64_t bid_size;
    int64_t ask_size;
} book;

double book_mid(const book* b) { return 0.5 * (b->bid + b->ask); }

double book_imbalance(const book* b) {
    int64_t total = b->bid_size + b->ask_size;
    return total == 0 ? 0.0 : (double)(b->bid_size - b->ask_size) / (double)total;
}

#define LOG_CAPACITY 64
static double signal_log[LOG_CAPACITY];
static int64_t signal_count = 0;

void record_signal(double value) {
    if (signal_count < LOG_CAPACITY) signal_log[signal_count] = value;
    ++signal_count;
}

int64_t recorded_count(void) { return signal_count; }

double recorded_at(int64_t i) { return (i >= 0 && i < signal_count && i < LOG_CAPACITY) ? signal_log[i] : 0.0; }

/* Exercises the runtime's containers (ncc_containers.h) through the public header and the shared
 * library: the host API, the documented layout and hot-path protocol (as compiled code uses it),
 * growth, faults and leak accounting. Built and run by tests/test_containers_c.py (also under
 * valgrind); exit status 0 means pass. */
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ncc_runtime.h"

static int failures = 0;

#define CHECK(cond)                                                                  \
    do {                                                                             \
        if (!(cond)) {                                                               \
            if (failures < 50)                                                       \
                fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__,     \
                        #cond);                                                      \
            ++failures;                                                              \
        }                                                                            \
    } while (0)

#define CHECK_ERROR(code_, message_, entry_)                                         \
    do {                                                                             \
        CHECK(ncc_error_code() == (code_));                                          \
        CHECK(strcmp(ncc_error_message(), (message_)) == 0);                         \
        CHECK(strcmp(ncc_error_entry(), (entry_)) == 0);                             \
    } while (0)

static int64_t double_bits(double value) {
    int64_t bits;
    memcpy(&bits, &value, sizeof bits);
    return bits;
}

/* ---- hot paths written the way compiled code does them, from the header alone ------------ */

static void cc_list_append(ncc_list* list, int64_t bits) {
    if (list->len == list->capacity && ncc_list_grow(list) != 0) return;
    list->data[list->len++] = bits;
}

/* Position of key, or -1. */
static int64_t cc_dict_lookup(const ncc_dict* d, int64_t key) {
    uint64_t mask = (uint64_t)d->mask;
    for (uint64_t slot = ncc_hash_int(key) & mask;; slot = (slot + 1) & mask) {
        int64_t pos = d->index[slot];
        if (pos == NCC_SLOT_EMPTY) return -1;
        if (pos >= 0 && d->keys[pos] == key) return pos;
    }
}

static int cc_dict_set(ncc_dict* d, int64_t key, int64_t bits) {
    int64_t pos = cc_dict_lookup(d, key);
    if (pos >= 0) {
        d->values[pos] = bits;
        return 0;
    }
    if (d->used == d->capacity && ncc_dict_grow(d) != 0) return -1;
    uint64_t mask = (uint64_t)d->mask;
    uint64_t slot = ncc_hash_int(key) & mask;
    while (d->index[slot] != NCC_SLOT_EMPTY && d->index[slot] != NCC_SLOT_DELETED)
        slot = (slot + 1) & mask;
    pos = d->used;
    d->keys[pos] = key;
    d->values[pos] = bits;
    d->live[pos] = 1;
    d->index[slot] = pos;
    d->used++;
    d->len++;
    return 0;
}

static int cc_dict_del(ncc_dict* d, int64_t key) {
    uint64_t mask = (uint64_t)d->mask;
    for (uint64_t slot = ncc_hash_int(key) & mask;; slot = (slot + 1) & mask) {
        int64_t pos = d->index[slot];
        if (pos == NCC_SLOT_EMPTY) return -1;
        if (pos >= 0 && d->keys[pos] == key) {
            d->index[slot] = NCC_SLOT_DELETED;
            d->live[pos] = 0;
            d->len--;
            return 0;
        }
    }
}

/* Every documented dict invariant; returns the number of violations found. */
static int dict_invariants(const ncc_dict* d) {
    int bad = 0;
    int64_t slots = d->mask + 1;
    if (slots < 8 || (slots & (slots - 1)) != 0) ++bad;
    if (!(0 <= d->len && d->len <= d->used && d->used <= d->capacity && d->capacity < slots)) ++bad;
    if (bad) return bad;
    int64_t index_size = 8; /* smallest power of two > capacity * 3 / 2 */
    while (index_size <= d->capacity * 3 / 2) index_size *= 2;
    if (slots != index_size || d->capacity < 8) ++bad;

    int64_t live = 0;
    for (int64_t pos = 0; pos < d->used; ++pos) {
        if (d->live[pos] != 0 && d->live[pos] != 1) ++bad;
        live += d->live[pos];
    }
    if (live != d->len) ++bad;

    int64_t* refs = calloc((size_t)(d->used + 1), sizeof *refs);
    int64_t non_empty = 0;
    for (int64_t slot = 0; slot < slots; ++slot) {
        int64_t pos = d->index[slot];
        if (pos == NCC_SLOT_EMPTY) continue;
        ++non_empty;
        if (pos == NCC_SLOT_DELETED) continue;
        if (pos < 0 || pos >= d->used || !d->live[pos]) {
            ++bad;
            continue;
        }
        refs[pos]++;
    }
    if (non_empty > d->used) ++bad;
    for (int64_t pos = 0; pos < d->used; ++pos) {
        if (d->live[pos] && refs[pos] != 1) ++bad;
        /* every live key is found by the shared probe sequence, at its own position */
        if (d->live[pos] && cc_dict_lookup(d, d->keys[pos]) != pos) ++bad;
    }
    free(refs);
    return bad;
}

/* ---- layout -------------------------------------------------------------------------------- */

static void test_layout(void) {
    CHECK(offsetof(ncc_list, len) == 0);
    CHECK(offsetof(ncc_list, capacity) == 8);
    CHECK(offsetof(ncc_list, data) == 16);
    CHECK(offsetof(ncc_list, kind) == 24);
    CHECK(offsetof(ncc_list, flags) == 28);
    CHECK(sizeof(ncc_list) == 32);
    CHECK(offsetof(ncc_dict, len) == 0);
    CHECK(offsetof(ncc_dict, used) == 8);
    CHECK(offsetof(ncc_dict, capacity) == 16);
    CHECK(offsetof(ncc_dict, mask) == 24);
    CHECK(offsetof(ncc_dict, index) == 32);
    CHECK(offsetof(ncc_dict, keys) == 40);
    CHECK(offsetof(ncc_dict, values) == 48);
    CHECK(offsetof(ncc_dict, live) == 56);
    CHECK(offsetof(ncc_dict, value_kind) == 64);
    CHECK(offsetof(ncc_dict, flags) == 68);
    CHECK(sizeof(ncc_dict) == 72);
    CHECK(NCC_KIND_INT == 1 && NCC_KIND_FLOAT == 2 && NCC_KIND_BOOL == 3);
    CHECK(NCC_CONTAINER_READONLY == 1 && NCC_SLOT_EMPTY == -1 && NCC_SLOT_DELETED == -2);
    /* the shared hash is a fixed function: pin a few values */
    CHECK(ncc_hash_int(0) == 0);
    CHECK(ncc_hash_int(1) == (0x9E3779B97F4A7C15ull ^ (0x9E3779B97F4A7C15ull >> 32)));
    /* the high half is folded in first, so keys that differ only above bit 48 spread out */
    CHECK((ncc_hash_int((int64_t)1 << 48) & 4095) != (ncc_hash_int((int64_t)3 << 48) & 4095));
}

/* ---- lists --------------------------------------------------------------------------------- */

static int64_t list_element(int32_t kind, int64_t i) {
    switch (kind) {
        case NCC_KIND_FLOAT: return double_bits((double)i * 0.5 - 3.25);
        case NCC_KIND_BOOL: return (i % 3) == 0;
        default: return i * 7919 - 500000;
    }
}

static void test_list_kind(int32_t kind) {
    const int64_t n = 1000;
    ncc_list* list = ncc_list_new(kind, 0);
    CHECK(list != NULL);
    if (list == NULL) return;
    CHECK(list->len == 0 && list->capacity == 8 && list->data != NULL);
    CHECK(list->kind == kind && list->flags == 0);
    CHECK(ncc_list_len(list) == 0);

    int64_t expected_capacity = 8, growths = 0;
    for (int64_t i = 0; i < n; ++i) {
        if (i % 2) {
            CHECK(ncc_list_append(list, list_element(kind, i)) == 0);
        } else {
            cc_list_append(list, list_element(kind, i));
        }
        if (i + 1 > expected_capacity) {
            expected_capacity *= 2; /* doubling */
            ++growths;
        }
        CHECK(list->capacity == expected_capacity);
    }
    CHECK(growths == 7); /* 8 -> 1024 */
    CHECK(ncc_list_len(list) == n && list->len == n);
    for (int64_t i = 0; i < n; ++i) {
        int64_t bits = -7;
        CHECK(ncc_list_get(list, i, &bits) == 0 && bits == list_element(kind, i));
        CHECK(list->data[i] == list_element(kind, i));
        CHECK(ncc_list_get(list, i - n, &bits) == 0 && bits == list_element(kind, i));
    }
    if (kind == NCC_KIND_FLOAT) {
        double* as_double = (double*)(void*)list->data;
        CHECK(as_double[3] == 3 * 0.5 - 3.25);
    }

    /* out of range: -1, error record untouched, *out untouched */
    int64_t bits = 12345;
    const int64_t bad[] = {n, n + 1, -n - 1, INT64_MAX, INT64_MIN};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; ++i) {
        CHECK(ncc_list_get(list, bad[i], &bits) == -1);
    }
    CHECK(bits == 12345);
    CHECK(ncc_error_code() == NCC_OK);
    ncc_error_set(NCC_ERR_EXCEPTION, "pending", "x");
    CHECK(ncc_list_get(list, n, &bits) == -1);
    CHECK_ERROR(NCC_ERR_EXCEPTION, "pending", "x");
    ncc_error_clear();

    /* clear keeps the storage */
    int64_t capacity = list->capacity;
    ncc_list_clear(list);
    CHECK(list->len == 0 && list->capacity == capacity && ncc_list_len(list) == 0);
    CHECK(ncc_list_get(list, 0, &bits) == -1 && ncc_list_get(list, -1, &bits) == -1);
    CHECK(ncc_list_append(list, list_element(kind, 5)) == 0);
    CHECK(ncc_list_get(list, -1, &bits) == 0 && bits == list_element(kind, 5));
    CHECK(ncc_error_code() == NCC_OK);
    ncc_list_free(list);
}

static void test_list_misc(void) {
    ncc_list_free(NULL); /* no-op */
    CHECK(ncc_list_len(NULL) == 0);
    int64_t bits = 0;
    CHECK(ncc_list_get(NULL, 0, &bits) == -1);
    CHECK(ncc_error_code() == NCC_OK);

    ncc_list* list = ncc_list_new(NCC_KIND_INT, 20);
    CHECK(list != NULL && list->capacity == 20);
    CHECK(ncc_list_get(list, 0, NULL) == -1);
    CHECK(ncc_list_reserve(list, 10) == 0 && list->capacity == 20); /* never shrinks */
    CHECK(ncc_list_reserve(list, 21) == 0 && list->capacity == 40);
    CHECK(ncc_list_reserve(list, 100) == 0 && list->capacity == 160);
    for (int64_t i = 0; i < 160; ++i) cc_list_append(list, i);
    CHECK(list->capacity == 160);
    CHECK(ncc_list_grow(list) == 0 && list->capacity == 320 && list->len == 160);
    CHECK(ncc_list_grow(list) == 0 && list->capacity == 320); /* room already */
    CHECK(ncc_list_get(list, 159, NULL) == 0);
    CHECK(ncc_error_code() == NCC_OK);

    /* allocation failure: recorded, list unchanged */
    int64_t* data = list->data;
    CHECK(ncc_list_reserve(list, INT64_MAX) == -1);
    CHECK(ncc_error_code() == NCC_ERR_ALLOC);
    CHECK(list->data == data && list->capacity == 320 && list->len == 160);
    ncc_error_clear();
    CHECK(ncc_list_new(NCC_KIND_INT, INT64_MAX) == NULL);
    CHECK(ncc_error_code() == NCC_ERR_ALLOC);
    ncc_error_clear();

    /* read-only lists refuse host mutation */
    list->flags = NCC_CONTAINER_READONLY;
    CHECK(ncc_list_append(list, 1) == -1);
    CHECK_ERROR(NCC_ERR_STATE, "constant container cannot be modified", "");
    ncc_error_clear();
    ncc_list_clear(list);
    CHECK(ncc_error_code() == NCC_ERR_STATE && list->len == 160);
    ncc_error_clear();
    list->flags = 0;

    /* NULL: the state fault */
    CHECK(ncc_list_append(NULL, 1) == -1);
    CHECK_ERROR(NCC_ERR_STATE, "container used before START or after STOP", "");
    ncc_error_clear();
    CHECK(ncc_list_grow(NULL) == -1 && ncc_error_code() == NCC_ERR_STATE);
    ncc_error_clear();

    /* invalid kinds */
    CHECK(ncc_list_new(0, 0) == NULL && ncc_error_code() == NCC_ERR_STATE);
    ncc_error_clear();
    CHECK(ncc_dict_new(4, 0) == NULL && ncc_error_code() == NCC_ERR_STATE);
    ncc_error_clear();

    ncc_list_free(list);
}

/* ---- dicts --------------------------------------------------------------------------------- */

enum { N_KEYS = 10000 };

/* Distinct keys: small, negative, and odd multiples of 2^32, 2^40 and 2^48 (their hashes share
 * many low bits, so they collide in the index), plus the int64 extremes. */
static int64_t key_of(int64_t i) {
    if (i == N_KEYS - 1) return INT64_MIN;
    if (i == N_KEYS - 2) return INT64_MAX;
    int64_t j = i / 5;
    switch (i % 5) {
        case 0: return j;
        case 1: return -(j + 1);
        case 2: return (2 * j + 1) * ((int64_t)1 << 32);
        case 3: return (2 * j + 1) * ((int64_t)1 << 40);
        default: return (2 * j + 1) * ((int64_t)1 << 48);
    }
}

static int64_t value_of(int64_t i, int64_t round) { return i * 31 + round * 1000003; }

/* Compares the dict's iteration with order[0..count-1] (key indices) and value_round[]. */
static void check_order(const ncc_dict* d, const int64_t* order, int64_t count,
                        const int64_t* value_round) {
    int64_t pos = 0, key = 0, bits = 0, seen = 0;
    int mismatches = 0;
    while (ncc_dict_next(d, &pos, &key, &bits)) {
        if (seen < count) {
            int64_t i = order[seen];
            if (key != key_of(i) || bits != value_of(i, value_round[i])) ++mismatches;
        }
        ++seen;
    }
    CHECK(seen == count);
    CHECK(mismatches == 0);
    CHECK(pos == d->used);
    CHECK(ncc_dict_next(d, &pos, &key, &bits) == 0); /* stays at the end */
}

static void test_dict_big(void) {
    ncc_dict* d = ncc_dict_new(NCC_KIND_INT, 0);
    CHECK(d != NULL);
    if (d == NULL) return;
    CHECK(d->len == 0 && d->used == 0 && d->capacity == 8 && d->mask == 15);
    CHECK(d->value_kind == NCC_KIND_INT && d->flags == 0);
    CHECK(dict_invariants(d) == 0);

    int64_t* order = malloc(2 * N_KEYS * sizeof *order);
    int64_t* round = calloc(2 * N_KEYS, sizeof *round);
    int64_t count = 0;

    /* insert: alternately through the host API and the compiled-code protocol */
    int64_t grows = 0, capacity = d->capacity;
    for (int64_t i = 0; i < N_KEYS; ++i) {
        int rc = (i % 3 == 0) ? cc_dict_set(d, key_of(i), value_of(i, 0))
                              : ncc_dict_set(d, key_of(i), value_of(i, 0));
        CHECK(rc == 0);
        order[count++] = i;
        if (d->capacity != capacity) {
            ++grows;
            CHECK(d->capacity == 2 * capacity); /* no deletes: live entries fill half */
            capacity = d->capacity;
        }
    }
    CHECK(grows >= 10);
    CHECK(d->len == N_KEYS && d->used == N_KEYS && ncc_dict_len(d) == N_KEYS);
    CHECK(dict_invariants(d) == 0);
    for (int64_t i = 0; i < N_KEYS; ++i) {
        int64_t bits = 0;
        CHECK(ncc_dict_get(d, key_of(i), &bits) == 0 && bits == value_of(i, 0));
    }
    check_order(d, order, count, round);

    /* overwrite: values change, order does not */
    for (int64_t i = 0; i < N_KEYS; i += 7) {
        round[i] = 1;
        int rc = (i % 2) ? cc_dict_set(d, key_of(i), value_of(i, 1))
                         : ncc_dict_set(d, key_of(i), value_of(i, 1));
        CHECK(rc == 0);
    }
    CHECK(d->len == N_KEYS && d->used == N_KEYS);
    check_order(d, order, count, round);

    /* delete every even index (half) */
    for (int64_t i = 0; i < N_KEYS; i += 2) {
        int rc = (i % 4) ? cc_dict_del(d, key_of(i)) : ncc_dict_del(d, key_of(i));
        CHECK(rc == 0);
    }
    CHECK(d->len == N_KEYS / 2 && d->used == N_KEYS);
    for (int64_t i = 0; i < N_KEYS; i += 2) {
        int64_t bits = 777;
        CHECK(ncc_dict_get(d, key_of(i), &bits) == -1 && bits == 777); /* missing */
        CHECK(ncc_dict_del(d, key_of(i)) == -1);                       /* already gone */
    }
    CHECK(ncc_error_code() == NCC_OK); /* missing keys never touch the record */
    CHECK(dict_invariants(d) == 0);
    count = 0;
    for (int64_t i = 1; i < N_KEYS; i += 2) order[count++] = i;
    check_order(d, order, count, round);

    /* reinsert half of the deleted keys, in reverse: they go to the end, in that order */
    for (int64_t i = N_KEYS - 4; i >= 0; i -= 4) {
        round[i] = 2;
        CHECK(((i / 4) % 2 ? cc_dict_set(d, key_of(i), value_of(i, 2))
                           : ncc_dict_set(d, key_of(i), value_of(i, 2))) == 0);
        order[count++] = i;
    }
    CHECK(d->len == count && d->len == N_KEYS / 2 + N_KEYS / 4);
    CHECK(dict_invariants(d) == 0);
    check_order(d, order, count, round);
    for (int64_t k = 0; k < count; ++k) {
        int64_t bits = 0, i = order[k];
        CHECK(ncc_dict_get(d, key_of(i), &bits) == 0 && bits == value_of(i, round[i]));
    }

    /* fill up with fresh keys: the growth that follows both drops the deleted entries and
     * enlarges (live entries fill more than half), keeping the order */
    CHECK(ncc_dict_grow(d) == 0 && d->used < d->capacity); /* room left: no-op */
    int64_t next = N_KEYS;
    while (d->used < d->capacity) {
        CHECK(cc_dict_set(d, key_of(next), value_of(next, 0)) == 0);
        order[count++] = next++;
    }
    capacity = d->capacity;
    CHECK(d->len < d->used && 2 * d->len > capacity);
    CHECK(cc_dict_set(d, key_of(next), value_of(next, 0)) == 0);
    order[count++] = next++;
    CHECK(d->used == d->len && d->len == count);
    CHECK(d->capacity == 2 * (count - 1));
    CHECK(dict_invariants(d) == 0);
    check_order(d, order, count, round);
    CHECK(ncc_error_code() == NCC_OK);

    /* clear keeps the storage and the dict is reusable */
    int64_t mask = d->mask;
    capacity = d->capacity;
    int64_t* index = d->index;
    ncc_dict_clear(d);
    CHECK(d->len == 0 && d->used == 0 && d->mask == mask && d->capacity == capacity);
    CHECK(d->index == index);
    int64_t empty = 0;
    for (int64_t slot = 0; slot <= d->mask; ++slot) empty += d->index[slot] == NCC_SLOT_EMPTY;
    CHECK(empty == d->mask + 1);
    CHECK(ncc_dict_get(d, key_of(1), NULL) == -1);
    int64_t pos = 0;
    CHECK(ncc_dict_next(d, &pos, NULL, NULL) == 0);
    count = 0;
    for (int64_t i = 0; i < 100; ++i) {
        round[i] = 3;
        CHECK(ncc_dict_set(d, key_of(i), value_of(i, 3)) == 0);
        order[count++] = i;
    }
    CHECK(dict_invariants(d) == 0);
    check_order(d, order, count, round);
    CHECK(d->capacity == capacity); /* no growth needed */

    free(order);
    free(round);
    ncc_dict_free(d);
}

/* Many insert/delete cycles with few live entries: compaction keeps the storage small. */
static void test_dict_churn(void) {
    enum { LIVE = 5, CYCLES = 20000 };
    ncc_dict* d = ncc_dict_new(NCC_KIND_INT, 0);
    CHECK(d != NULL);
    if (d == NULL) return;
    int64_t max_capacity = 0;
    for (int64_t i = 0; i < CYCLES; ++i) {
        CHECK(cc_dict_set(d, i * 1000003, i) == 0);
        if (i >= LIVE) CHECK(ncc_dict_del(d, (i - LIVE) * 1000003) == 0);
        if (d->capacity > max_capacity) max_capacity = d->capacity;
    }
    CHECK(max_capacity <= 16);
    CHECK(d->len == LIVE);
    CHECK(dict_invariants(d) == 0);
    int64_t pos = 0, key = 0, bits = 0, expect = CYCLES - LIVE;
    while (ncc_dict_next(d, &pos, &key, &bits)) {
        CHECK(key == expect * 1000003 && bits == expect);
        ++expect;
    }
    CHECK(expect == CYCLES);
    ncc_dict_free(d);
}

static void test_dict_misc(void) {
    ncc_dict_free(NULL); /* no-op */
    CHECK(ncc_dict_len(NULL) == 0);
    CHECK(ncc_dict_get(NULL, 1, NULL) == -1);
    int64_t pos = 0, key = 0, bits = 0;
    CHECK(ncc_dict_next(NULL, &pos, &key, &bits) == 0);
    CHECK(ncc_error_code() == NCC_OK);

    ncc_dict* d = ncc_dict_new(NCC_KIND_FLOAT, 100);
    CHECK(d != NULL && d->capacity == 100 && d->mask + 1 == 256); /* > 150 */
    CHECK(d->value_kind == NCC_KIND_FLOAT);
    const double values[] = {0.0, -0.0, 1.5, 1e308, -1e-308};
    for (int i = 0; i < 5; ++i) CHECK(ncc_dict_set(d, i, double_bits(values[i])) == 0);
    CHECK(ncc_dict_set(d, 5, double_bits(0.0 / 0.0)) == 0);
    for (int i = 0; i < 5; ++i) {
        CHECK(ncc_dict_get(d, i, &bits) == 0 && bits == double_bits(values[i]));
        double v;
        memcpy(&v, &d->values[i], sizeof v);
        CHECK(memcmp(&v, &values[i], sizeof v) == 0);
    }
    CHECK(ncc_dict_get(d, 5, &bits) == 0 && bits == double_bits(0.0 / 0.0));
    CHECK(ncc_dict_grow(d) == 0 && d->capacity == 100 && d->used == 6); /* room: no-op */

    /* iteration with NULL outputs and past the end */
    pos = 0;
    int n = 0;
    while (ncc_dict_next(d, &pos, NULL, NULL)) ++n;
    CHECK(n == 6);
    pos = 1000;
    CHECK(ncc_dict_next(d, &pos, &key, &bits) == 0);

    /* read-only dicts refuse host mutation */
    d->flags = NCC_CONTAINER_READONLY;
    CHECK(ncc_dict_set(d, 9, 0) == -1);
    CHECK_ERROR(NCC_ERR_STATE, "constant container cannot be modified", "");
    ncc_error_clear();
    CHECK(ncc_dict_del(d, 1) == -1 && ncc_error_code() == NCC_ERR_STATE);
    ncc_error_clear();
    ncc_dict_clear(d);
    CHECK(ncc_error_code() == NCC_ERR_STATE && d->len == 6);
    ncc_error_clear();
    CHECK(ncc_dict_get(d, 1, &bits) == 0); /* reading is fine */
    d->flags = 0;

    CHECK(ncc_dict_set(NULL, 1, 1) == -1);
    CHECK_ERROR(NCC_ERR_STATE, "container used before START or after STOP", "");
    ncc_error_clear();
    CHECK(ncc_dict_grow(NULL) == -1 && ncc_error_code() == NCC_ERR_STATE);
    ncc_error_clear();
    CHECK(ncc_dict_new(NCC_KIND_BOOL, INT64_MAX) == NULL && ncc_error_code() == NCC_ERR_ALLOC);
    ncc_error_clear();

    /* delete everything, then growth compacts to nothing without enlarging */
    ncc_dict* small = ncc_dict_new(NCC_KIND_BOOL, 0);
    for (int64_t i = 0; i < 8; ++i) CHECK(ncc_dict_set(small, i, i & 1) == 0);
    for (int64_t i = 0; i < 8; ++i) CHECK(ncc_dict_del(small, i) == 0);
    CHECK(small->used == 8 && small->capacity == 8 && small->len == 0);
    CHECK(ncc_dict_grow(small) == 0);
    CHECK(small->used == 0 && small->capacity == 8 && small->mask == 15);
    CHECK(dict_invariants(small) == 0);
    CHECK(ncc_dict_set(small, 3, 1) == 0 && ncc_dict_get(small, 3, &bits) == 0 && bits == 1);
    ncc_dict_free(small);

    /* at most half live when full: growth only compacts, in place */
    ncc_dict* half = ncc_dict_new(NCC_KIND_INT, 100);
    for (int64_t i = 0; i < 100; ++i) CHECK(ncc_dict_set(half, i, -i) == 0);
    for (int64_t i = 0; i < 100; i += 2) CHECK(ncc_dict_del(half, i) == 0);
    int64_t* keys = half->keys;
    CHECK(ncc_dict_set(half, 1000, 7) == 0);
    CHECK(half->capacity == 100 && half->keys == keys && half->used == 51 && half->len == 51);
    CHECK(dict_invariants(half) == 0);
    pos = 0;
    int64_t expect = 1;
    while (ncc_dict_next(half, &pos, &key, &bits)) {
        CHECK(key == expect && bits == (expect == 1000 ? 7 : -expect));
        expect = expect == 99 ? 1000 : expect + 2;
    }
    CHECK(expect == 1002);
    ncc_dict_free(half);
    ncc_dict_free(d);
}

/* ---- faults -------------------------------------------------------------------------------- */

static void test_faults(void) {
    ncc_error_clear();
    ncc_fault_index(7, 3, "node_a");
    CHECK_ERROR(NCC_ERR_INDEX, "list index 7 out of range (length 3)", "node_a");
    ncc_error_clear();
    ncc_fault_index(-4, 3, "n");
    CHECK_ERROR(NCC_ERR_INDEX, "list index -4 out of range (length 3)", "n");
    ncc_error_clear();

    ncc_fault_key(42, "node_b");
    CHECK_ERROR(NCC_ERR_KEY, "key 42 not found", "node_b");
    ncc_error_clear();
    ncc_fault_key(INT64_MIN, ncc_entry_unknown);
    CHECK_ERROR(NCC_ERR_KEY, "key -9223372036854775808 not found", "");
    ncc_error_clear();

    ncc_fault_empty("pop from empty list", "node_c");
    CHECK_ERROR(NCC_ERR_EMPTY, "pop from empty list", "node_c");
    ncc_error_clear();
    ncc_fault_empty(NULL, NULL);
    CHECK_ERROR(NCC_ERR_EMPTY, "operation on an empty container", "");
    ncc_error_clear();

    ncc_fault_state("node_d");
    CHECK_ERROR(NCC_ERR_STATE, "container used before START or after STOP", "node_d");
    ncc_error_clear();
    ncc_fault_readonly("node_e");
    CHECK_ERROR(NCC_ERR_STATE, "constant container cannot be modified", "node_e");
    ncc_error_clear();

    /* first fault wins, across kinds of fault */
    ncc_fault_key(1, "first");
    ncc_fault_index(1, 0, "second");
    ncc_fault_empty("pop from empty list", "third");
    ncc_fault_state("fourth");
    ncc_fault_readonly("fifth");
    CHECK_ERROR(NCC_ERR_KEY, "key 1 not found", "first");
    ncc_list* list = ncc_list_new(NCC_KIND_INT, 0);
    CHECK(ncc_list_reserve(list, INT64_MAX) == -1); /* its ALLOC does not replace the KEY */
    CHECK(ncc_error_code() == NCC_ERR_KEY);
    ncc_list_free(list);
    ncc_error_clear();

    CHECK(strcmp(ncc_entry_unknown, "") == 0);
}

/* ---- leak accounting ----------------------------------------------------------------------- */

static void* churn_containers(void* arg) {
    (void)arg;
    for (int i = 0; i < 500; ++i) {
        ncc_list* l = ncc_list_new(NCC_KIND_INT, 0);
        ncc_dict* d = ncc_dict_new(NCC_KIND_INT, 0);
        ncc_list_append(l, i);
        ncc_dict_set(d, i, i);
        ncc_dict_free(d);
        ncc_list_free(l);
    }
    return NULL;
}

static void test_live_containers(void) {
    CHECK(ncc_live_containers() == 0);
    ncc_list* l = ncc_list_new(NCC_KIND_BOOL, 0);
    ncc_dict* d = ncc_dict_new(NCC_KIND_INT, 0);
    CHECK(ncc_live_containers() == 2);
    ncc_list_free(NULL);
    ncc_dict_free(NULL);
    CHECK(ncc_live_containers() == 2);
    CHECK(ncc_list_new(NCC_KIND_INT, INT64_MAX) == NULL); /* failures are not counted */
    ncc_error_clear();
    CHECK(ncc_live_containers() == 2);
    ncc_list_free(l);
    CHECK(ncc_live_containers() == 1);
    ncc_dict_free(d);
    CHECK(ncc_live_containers() == 0);

    pthread_t threads[4];
    for (int i = 0; i < 4; ++i) {
        CHECK(pthread_create(&threads[i], NULL, churn_containers, NULL) == 0);
    }
    for (int i = 0; i < 4; ++i) CHECK(pthread_join(threads[i], NULL) == 0);
    CHECK(ncc_live_containers() == 0);
}

int main(void) {
    CHECK(ncc_live_containers() == 0);
    test_layout();
    test_list_kind(NCC_KIND_INT);
    test_list_kind(NCC_KIND_FLOAT);
    test_list_kind(NCC_KIND_BOOL);
    test_list_misc();
    test_dict_big();
    test_dict_churn();
    test_dict_misc();
    test_faults();
    test_live_containers();
    CHECK(ncc_live_containers() == 0); /* everything created above was freed */
    CHECK(ncc_error_code() == NCC_OK);
    if (failures) {
        fprintf(stderr, "%d check(s) failed\n", failures);
        return 1;
    }
    return 0;
}

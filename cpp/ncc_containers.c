/* Typed list and insertion-ordered hash dict over 8-byte elements (layouts in ncc_containers.h). */
#define NCC_BUILDING_RUNTIME
#include "ncc_runtime.h"

#include <inttypes.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- layout: fixed ABI, relied on by compiled code ---------------------------------------- */

_Static_assert(sizeof(void*) == 8, "the container layouts assume 8-byte pointers");
_Static_assert(offsetof(ncc_list, len) == 0, "ncc_list.len offset");
_Static_assert(offsetof(ncc_list, capacity) == 8, "ncc_list.capacity offset");
_Static_assert(offsetof(ncc_list, data) == 16, "ncc_list.data offset");
_Static_assert(offsetof(ncc_list, kind) == 24, "ncc_list.kind offset");
_Static_assert(offsetof(ncc_list, flags) == 28, "ncc_list.flags offset");
_Static_assert(sizeof(ncc_list) == 32, "ncc_list size");

_Static_assert(offsetof(ncc_dict, len) == 0, "ncc_dict.len offset");
_Static_assert(offsetof(ncc_dict, used) == 8, "ncc_dict.used offset");
_Static_assert(offsetof(ncc_dict, capacity) == 16, "ncc_dict.capacity offset");
_Static_assert(offsetof(ncc_dict, mask) == 24, "ncc_dict.mask offset");
_Static_assert(offsetof(ncc_dict, index) == 32, "ncc_dict.index offset");
_Static_assert(offsetof(ncc_dict, keys) == 40, "ncc_dict.keys offset");
_Static_assert(offsetof(ncc_dict, values) == 48, "ncc_dict.values offset");
_Static_assert(offsetof(ncc_dict, live) == 56, "ncc_dict.live offset");
_Static_assert(offsetof(ncc_dict, value_kind) == 64, "ncc_dict.value_kind offset");
_Static_assert(offsetof(ncc_dict, flags) == 68, "ncc_dict.flags offset");
_Static_assert(sizeof(ncc_dict) == 72, "ncc_dict size");

_Static_assert(sizeof(double) == sizeof(int64_t), "float elements are stored as 8-byte bits");

/* Largest element count we try to allocate: keeps every size computation (count * 8, count * 2,
 * count * 3 / 2 rounded up to a power of two) far from overflow. Larger requests fail as
 * allocation failures. */
#define MAX_ELEMENTS ((int64_t)1 << 56)
#define MIN_CAPACITY 8

/* ---- leak accounting ----------------------------------------------------------------------- */

static _Atomic int64_t live_containers;

NCC_API int64_t ncc_live_containers(void) {
    return atomic_load_explicit(&live_containers, memory_order_relaxed);
}

static void count_created(void) {
    atomic_fetch_add_explicit(&live_containers, 1, memory_order_relaxed);
}

static void count_freed(void) {
    atomic_fetch_sub_explicit(&live_containers, 1, memory_order_relaxed);
}

/* ---- faults -------------------------------------------------------------------------------- */

NCC_API const char ncc_entry_unknown[] = "";

static const char MSG_ALLOC[] = "out of memory allocating a container";

NCC_API void ncc_fault_index_of(const char* what, int64_t index, int64_t len, const char* entry) {
    char message[NCC_ERROR_MESSAGE_MAX];
    snprintf(message, sizeof message, "%s index %" PRId64 " out of range (length %" PRId64 ")",
             what ? what : "list", index, len);
    ncc_error_set(NCC_ERR_INDEX, message, entry);
}

NCC_API void ncc_fault_index(int64_t index, int64_t len, const char* entry) {
    ncc_fault_index_of("list", index, len, entry);
}

NCC_API void ncc_fault_key(int64_t key, const char* entry) {
    char message[NCC_ERROR_MESSAGE_MAX];
    snprintf(message, sizeof message, "key %" PRId64 " not found", key);
    ncc_error_set(NCC_ERR_KEY, message, entry);
}

NCC_API void ncc_fault_empty(const char* what, const char* entry) {
    if (what == NULL || what[0] == '\0') what = "operation on an empty container";
    ncc_error_set(NCC_ERR_EMPTY, what, entry);
}

NCC_API void ncc_fault_state(const char* entry) {
    ncc_error_set(NCC_ERR_STATE, "container used before START or after STOP", entry);
}

NCC_API void ncc_fault_readonly(const char* entry) {
    ncc_error_set(NCC_ERR_STATE, "constant container cannot be modified", entry);
}

static void fault_alloc(void) { ncc_error_set(NCC_ERR_ALLOC, MSG_ALLOC, ncc_entry_unknown); }

static int valid_kind(int32_t kind) {
    return kind == NCC_KIND_INT || kind == NCC_KIND_FLOAT || kind == NCC_KIND_BOOL;
}

static void fault_kind(int32_t kind) {
    char message[NCC_ERROR_MESSAGE_MAX];
    snprintf(message, sizeof message, "invalid container element kind %" PRId32, kind);
    ncc_error_set(NCC_ERR_STATE, message, ncc_entry_unknown);
}

/* Host mutators: a NULL or read-only container records NCC_ERR_STATE and is left alone. */
static int mutable_or_fault(const void* container, int32_t flags) {
    if (container == NULL) {
        ncc_fault_state(ncc_entry_unknown);
        return 0;
    }
    if (flags & NCC_CONTAINER_READONLY) {
        ncc_fault_readonly(ncc_entry_unknown);
        return 0;
    }
    return 1;
}

static int64_t* alloc_slots(int64_t count) { return malloc((size_t)count * sizeof(int64_t)); }

/* List storage is cache-line aligned: the front-shifting memmove of pop(0) and the reads right
   after it otherwise run up to 1.5x slower when the buffer lands at some offsets in a line. */
enum { LIST_ALIGNMENT = 64 };

static int64_t* alloc_list_slots(int64_t count) {
    size_t bytes = (size_t)count * sizeof(int64_t);
    bytes = (bytes + LIST_ALIGNMENT - 1) / LIST_ALIGNMENT * LIST_ALIGNMENT; /* aligned_alloc rule */
    return aligned_alloc(LIST_ALIGNMENT, bytes);
}

/* ---- list ---------------------------------------------------------------------------------- */

NCC_API ncc_list* ncc_list_new(int32_t kind, int64_t initial_capacity) {
    if (!valid_kind(kind)) {
        fault_kind(kind);
        return NULL;
    }
    int64_t capacity = initial_capacity < MIN_CAPACITY ? MIN_CAPACITY : initial_capacity;
    ncc_list* list = NULL;
    int64_t* data = NULL;
    if (capacity <= MAX_ELEMENTS) {
        list = malloc(sizeof *list);
        data = alloc_list_slots(capacity);
    }
    if (list == NULL || data == NULL) {
        free(list);
        free(data);
        fault_alloc();
        return NULL;
    }
    list->len = 0;
    list->capacity = capacity;
    list->data = data;
    list->kind = kind;
    list->flags = 0;
    count_created();
    return list;
}

NCC_API void ncc_list_free(ncc_list* list) {
    if (list == NULL) return;
    free(list->data);
    free(list);
    count_freed();
}

NCC_API int32_t ncc_list_reserve(ncc_list* list, int64_t min_capacity) {
    if (list == NULL) {
        ncc_fault_state(ncc_entry_unknown);
        return -1;
    }
    if (min_capacity <= list->capacity) return 0;
    if (min_capacity > MAX_ELEMENTS) {
        fault_alloc();
        return -1;
    }
    int64_t capacity = list->capacity < MIN_CAPACITY ? MIN_CAPACITY : list->capacity;
    while (capacity < min_capacity) capacity *= 2; /* <= 2 * MAX_ELEMENTS: no overflow */
    int64_t* data = alloc_list_slots(capacity);
    if (data == NULL) {
        fault_alloc();
        return -1;
    }
    memcpy(data, list->data, (size_t)list->len * sizeof(int64_t));
    free(list->data);
    list->data = data;
    list->capacity = capacity;
    return 0;
}

NCC_API int32_t ncc_list_grow(ncc_list* list) {
    if (list == NULL) {
        ncc_fault_state(ncc_entry_unknown);
        return -1;
    }
    return ncc_list_reserve(list, list->len + 1);
}

NCC_API int64_t ncc_list_len(const ncc_list* list) { return list == NULL ? 0 : list->len; }

NCC_API int32_t ncc_list_get(const ncc_list* list, int64_t index, int64_t* out_bits) {
    if (list == NULL) return -1;
    if (index < 0) index += list->len;
    if (index < 0 || index >= list->len) return -1;
    if (out_bits != NULL) *out_bits = list->data[index];
    return 0;
}

NCC_API int32_t ncc_list_append(ncc_list* list, int64_t bits) {
    if (!mutable_or_fault(list, list == NULL ? 0 : list->flags)) return -1;
    if (list->len == list->capacity && ncc_list_grow(list) != 0) return -1;
    list->data[list->len++] = bits;
    return 0;
}

NCC_API void ncc_list_clear(ncc_list* list) {
    if (!mutable_or_fault(list, list == NULL ? 0 : list->flags)) return;
    list->len = 0;
}

/* ---- dict ---------------------------------------------------------------------------------- */

/* Index slots for a capacity: the smallest power of two > capacity * 3 / 2, at least 8. */
static int64_t index_size_for(int64_t capacity) {
    int64_t size = 8;
    while (size <= capacity * 3 / 2) size *= 2;
    return size;
}

/* Slot of key, or -1 (stops at the first EMPTY slot). */
static int64_t find_slot(const ncc_dict* dict, int64_t key) {
    uint64_t mask = (uint64_t)dict->mask;
    for (uint64_t slot = ncc_hash_int(key) & mask;; slot = (slot + 1) & mask) {
        int64_t pos = dict->index[slot];
        if (pos == NCC_SLOT_EMPTY) return -1;
        if (pos >= 0 && dict->keys[pos] == key) return (int64_t)slot;
    }
}

/* First EMPTY or DELETED slot on key's probe sequence. */
static int64_t free_slot(const ncc_dict* dict, int64_t key) {
    uint64_t mask = (uint64_t)dict->mask;
    uint64_t slot = ncc_hash_int(key) & mask;
    while (dict->index[slot] >= 0) slot = (slot + 1) & mask;
    return (int64_t)slot;
}

/* Sets every slot EMPTY, then indexes positions 0..used-1 (all of them live). */
static void rebuild_index(ncc_dict* dict) {
    for (int64_t slot = 0; slot <= dict->mask; ++slot) dict->index[slot] = NCC_SLOT_EMPTY;
    uint64_t mask = (uint64_t)dict->mask;
    for (int64_t pos = 0; pos < dict->used; ++pos) {
        uint64_t slot = ncc_hash_int(dict->keys[pos]) & mask;
        while (dict->index[slot] != NCC_SLOT_EMPTY) slot = (slot + 1) & mask;
        dict->index[slot] = pos;
    }
}

/* Moves the live entries to positions 0..len-1 of the given arrays (which may be the dict's
 * own: entries only move down), keeping their order. */
static void compact_into(const ncc_dict* dict, int64_t* keys, int64_t* values, int64_t* live) {
    int64_t to = 0;
    for (int64_t pos = 0; pos < dict->used; ++pos) {
        if (!dict->live[pos]) continue;
        keys[to] = dict->keys[pos];
        values[to] = dict->values[pos];
        live[to] = 1;
        ++to;
    }
}

/* The four arrays a dict owns (see ncc_dict); NULLs are fine. */
static void free_dict_arrays(int64_t* index, int64_t* keys, int64_t* values, int64_t* live) {
    free(index);
    free(keys);
    free(values);
    free(live);
}

NCC_API ncc_dict* ncc_dict_new(int32_t value_kind, int64_t initial_capacity) {
    if (!valid_kind(value_kind)) {
        fault_kind(value_kind);
        return NULL;
    }
    int64_t capacity = initial_capacity < MIN_CAPACITY ? MIN_CAPACITY : initial_capacity;
    ncc_dict* dict = NULL;
    int64_t* index = NULL;
    int64_t* keys = NULL;
    int64_t* values = NULL;
    int64_t* live = NULL;
    int64_t slots = 0;
    if (capacity <= MAX_ELEMENTS) {
        slots = index_size_for(capacity);
        dict = malloc(sizeof *dict);
        index = alloc_slots(slots);
        keys = alloc_slots(capacity);
        values = alloc_slots(capacity);
        live = alloc_slots(capacity);
    }
    if (dict == NULL || index == NULL || keys == NULL || values == NULL || live == NULL) {
        free(dict);
        free_dict_arrays(index, keys, values, live);
        fault_alloc();
        return NULL;
    }
    dict->len = 0;
    dict->used = 0;
    dict->capacity = capacity;
    dict->mask = slots - 1;
    dict->index = index;
    dict->keys = keys;
    dict->values = values;
    dict->live = live;
    dict->value_kind = value_kind;
    dict->flags = 0;
    rebuild_index(dict);
    count_created();
    return dict;
}

NCC_API void ncc_dict_free(ncc_dict* dict) {
    if (dict == NULL) return;
    free_dict_arrays(dict->index, dict->keys, dict->values, dict->live);
    free(dict);
    count_freed();
}

/* Drops deleted entries in place and rebuilds the index (same storage). */
static void compact_in_place(ncc_dict* dict) {
    compact_into(dict, dict->keys, dict->values, dict->live);
    dict->used = dict->len;
    rebuild_index(dict);
}

NCC_API int32_t ncc_dict_grow(ncc_dict* dict) {
    if (dict == NULL) {
        ncc_fault_state(ncc_entry_unknown);
        return -1;
    }
    if (dict->used < dict->capacity) return 0;

    /* Enlarge only when live entries fill more than half of the capacity; otherwise dropping
     * the deleted entries frees at least capacity / 2 positions (amortised O(1) inserts). */
    if (dict->len * 2 <= dict->capacity) {
        compact_in_place(dict);
        return 0;
    }
    int64_t capacity = dict->len * 2 < MIN_CAPACITY ? MIN_CAPACITY : dict->len * 2;
    int64_t* index = NULL;
    int64_t* keys = NULL;
    int64_t* values = NULL;
    int64_t* live = NULL;
    int64_t slots = 0;
    if (capacity <= MAX_ELEMENTS) {
        slots = index_size_for(capacity);
        index = alloc_slots(slots);
        keys = alloc_slots(capacity);
        values = alloc_slots(capacity);
        live = alloc_slots(capacity);
    }
    if (index == NULL || keys == NULL || values == NULL || live == NULL) {
        free_dict_arrays(index, keys, values, live);
        /* Dropping deleted entries may still make room in the current storage. */
        if (dict->len < dict->used) {
            compact_in_place(dict);
            return 0;
        }
        fault_alloc();
        return -1;
    }
    compact_into(dict, keys, values, live);
    free_dict_arrays(dict->index, dict->keys, dict->values, dict->live);
    dict->index = index;
    dict->keys = keys;
    dict->values = values;
    dict->live = live;
    dict->capacity = capacity;
    dict->mask = slots - 1;
    dict->used = dict->len;
    rebuild_index(dict);
    return 0;
}

NCC_API int64_t ncc_dict_len(const ncc_dict* dict) { return dict == NULL ? 0 : dict->len; }

NCC_API int32_t ncc_dict_get(const ncc_dict* dict, int64_t key, int64_t* out_bits) {
    if (dict == NULL) return -1;
    int64_t slot = find_slot(dict, key);
    if (slot < 0) return -1;
    if (out_bits != NULL) *out_bits = dict->values[dict->index[slot]];
    return 0;
}

NCC_API int32_t ncc_dict_set(ncc_dict* dict, int64_t key, int64_t bits) {
    if (!mutable_or_fault(dict, dict == NULL ? 0 : dict->flags)) return -1;
    int64_t slot = find_slot(dict, key);
    if (slot >= 0) {
        dict->values[dict->index[slot]] = bits;
        return 0;
    }
    if (dict->used == dict->capacity && ncc_dict_grow(dict) != 0) return -1;
    slot = free_slot(dict, key);
    int64_t pos = dict->used;
    dict->keys[pos] = key;
    dict->values[pos] = bits;
    dict->live[pos] = 1;
    dict->index[slot] = pos;
    dict->used++;
    dict->len++;
    return 0;
}

NCC_API int32_t ncc_dict_del(ncc_dict* dict, int64_t key) {
    if (!mutable_or_fault(dict, dict == NULL ? 0 : dict->flags)) return -1;
    int64_t slot = find_slot(dict, key);
    if (slot < 0) return -1;
    dict->live[dict->index[slot]] = 0;
    dict->index[slot] = NCC_SLOT_DELETED;
    dict->len--;
    return 0;
}

NCC_API void ncc_dict_clear(ncc_dict* dict) {
    if (!mutable_or_fault(dict, dict == NULL ? 0 : dict->flags)) return;
    dict->len = 0;
    dict->used = 0;
    rebuild_index(dict);
}

NCC_API int32_t ncc_dict_next(const ncc_dict* dict, int64_t* pos, int64_t* key, int64_t* bits) {
    if (dict == NULL || pos == NULL) return 0;
    for (int64_t p = *pos < 0 ? 0 : *pos; p < dict->used; ++p) {
        if (!dict->live[p]) continue;
        if (key != NULL) *key = dict->keys[p];
        if (bits != NULL) *bits = dict->values[p];
        *pos = p + 1;
        return 1;
    }
    *pos = dict->used;
    return 0;
}

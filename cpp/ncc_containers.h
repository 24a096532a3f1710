/*
 * ncc_containers.h - NRT-free containers of libnumba_rt: a typed list and an insertion-ordered
 * hash dict over 8-byte elements. Included by ncc_runtime.h; may also be included on its own.
 *
 * The struct layouts below are part of the ABI. Compiled code reads and writes them directly
 * for the hot operations (length, get, set, append when there is room, lookup, insert, delete)
 * and calls the runtime only to allocate, grow, free and report faults. A C/C++ host uses the
 * host API (ncc_list_* / ncc_dict_*) to create, inspect, iterate and free the containers a node
 * keeps in its state. Offsets are fixed (checked with _Static_assert in ncc_containers.c) and
 * assume a 64-bit target (8-byte pointers).
 *
 * Elements
 * --------
 * Every list element, dict key and dict value is 8 bytes:
 *   NCC_KIND_INT   -> int64_t
 *   NCC_KIND_FLOAT -> the bits of a double (reinterpret the int64_t slot as double)
 *   NCC_KIND_BOOL  -> int64_t 0 or 1 (a bool *value cell* only defines its low byte: normalise
 *                     it to 0/1 before storing it in a container)
 * Dict keys are always int64_t; value_kind describes the values.
 *
 * Flags: NCC_CONTAINER_READONLY marks a constant container. Compiled code checks it before a
 * mutation and calls ncc_fault_readonly(); the host API's mutators refuse such a container the
 * same way (they record NCC_ERR_STATE and change nothing).
 *
 * ncc_list invariants
 * -------------------
 *   0 <= len <= capacity, capacity >= 8 for a list made by ncc_list_new; data holds capacity
 *   slots, the first len of them are the elements.
 *   get/set i (0 <= i < len):  data[i]
 *   append:   if (len == capacity && ncc_list_grow(l) != 0) -> fault already recorded, stop;
 *             data[len++] = bits;   (re-read data after ncc_list_grow: it may move)
 *   Growth doubles the capacity (minimum 8). Storage never shrinks except by ncc_list_free.
 *
 * ncc_dict invariants
 * -------------------
 *   Entries live in positions 0..used-1 of keys/values/live, in insertion order; live[pos] is 1
 *   for a live entry and 0 for a deleted one. index has mask + 1 slots (a power of two >= 8);
 *   each slot holds NCC_SLOT_EMPTY, NCC_SLOT_DELETED or the position of a live entry, and every
 *   live entry is referenced by exactly one slot.
 *
 *     (non-empty index slots) <= used <= capacity < mask + 1
 *
 *   so at least one slot is EMPTY and every probe sequence ends.
 *
 *   Probe sequence: linear probing, slot = ncc_hash_int(key) & mask, then slot = (slot+1) & mask.
 *   Lookup:   probe until an EMPTY slot (key absent); skip DELETED slots; the key is found at
 *             the first slot s with index[s] >= 0 and keys[index[s]] == key (pos = index[s]).
 *   Set existing key: values[pos] = bits (position and order unchanged).
 *   Insert absent key:
 *             if (used == capacity && ncc_dict_grow(d) != 0) -> fault already recorded, stop;
 *             (after ncc_dict_grow re-read every field: index/keys/values/live/mask may move)
 *             probe from hash & mask to the first slot that is EMPTY or DELETED;
 *             keys[used] = key; values[used] = bits; live[used] = 1; index[slot] = used;
 *             used++; len++;
 *   Delete:   index[slot] = NCC_SLOT_DELETED; live[pos] = 0; len--;
 *             (keys/values of the deleted entry stay; the position is not reused until growth)
 *   Iterate:  positions 0..used-1 with live[pos] == 1, in insertion order (see ncc_dict_next).
 *             A deleted key that is inserted again moves to the end, as in a Python dict.
 *   Growth (ncc_dict_grow, called when used == capacity): drops deleted entries (keeping
 *   insertion order) and, if live entries fill more than half of the capacity, enlarges it to
 *   max(8, 2 * len). The index then has the smallest power of two > capacity * 3 / 2 slots
 *   (minimum 8) and is rebuilt. Afterwards used == len < capacity.
 *
 * Faults: every ncc_fault_* records into the thread-local error record (first fault wins, see
 * ncc_error_set) and returns; the caller must then stop and return to the host.
 */
#ifndef NCC_CONTAINERS_H
#define NCC_CONTAINERS_H

#include "ncc_runtime.h" /* NCC_API, error codes; it includes this header back (guarded) */

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum ncc_kind { NCC_KIND_INT = 1, NCC_KIND_FLOAT = 2, NCC_KIND_BOOL = 3 };

/* ncc_list.flags / ncc_dict.flags bits */
enum { NCC_CONTAINER_READONLY = 1 };

typedef struct ncc_list {
    int64_t len;        /* offset 0  */
    int64_t capacity;   /* offset 8  */
    int64_t* data;      /* offset 16: capacity 8-byte slots (reinterpret as double* for NCC_KIND_FLOAT) */
    int32_t kind;       /* offset 24: enum ncc_kind */
    int32_t flags;      /* offset 28: NCC_CONTAINER_* bits */
} ncc_list;             /* sizeof 32 */

typedef struct ncc_dict {
    int64_t len;        /* offset 0:  live entries */
    int64_t used;       /* offset 8:  entry positions used, live + deleted */
    int64_t capacity;   /* offset 16: entry positions allocated; always < mask + 1 */
    int64_t mask;       /* offset 24: index slots - 1 (index size is a power of two >= 8) */
    int64_t* index;     /* offset 32: per slot: NCC_SLOT_EMPTY (-1), NCC_SLOT_DELETED (-2), or an entry position */
    int64_t* keys;      /* offset 40: entry keys in insertion order */
    int64_t* values;    /* offset 48: entry values (8-byte slots, double bits for floats) */
    int64_t* live;      /* offset 56: entry live flags, 1 live / 0 deleted */
    int32_t value_kind; /* offset 64: enum ncc_kind */
    int32_t flags;      /* offset 68: NCC_CONTAINER_* bits */
} ncc_dict;             /* sizeof 72 */

#define NCC_SLOT_EMPTY (-1)
#define NCC_SLOT_DELETED (-2)

/* The hash and probe sequence, shared by C and compiled code: linear probing from
 * ncc_hash_int(key) & mask, step 1. */
static inline uint64_t ncc_hash_int(int64_t key) {
    /* Fold the high half down first: a multiply only carries bits upwards, so keys whose low bits
       are all zero (id << 48) would otherwise collide; the product's mixed high half is then
       folded into the low bits that the mask keeps. */
    uint64_t x = (uint64_t)key;
    uint64_t h = (x ^ (x >> 32)) * 0x9E3779B97F4A7C15ull;
    return h ^ (h >> 32);
}

/* ---- list --------------------------------------------------------------------------------- */

/* A new empty list of kind (enum ncc_kind) with room for max(8, initial_capacity) elements.
 * NULL on failure: NCC_ERR_ALLOC recorded (NCC_ERR_STATE for an invalid kind). */
NCC_API ncc_list* ncc_list_new(int32_t kind, int64_t initial_capacity);
/* Frees the list and its storage. NULL is a no-op. */
NCC_API void ncc_list_free(ncc_list* list);
/* Makes capacity >= min_capacity (doubling, minimum 8). 0 ok; -1 with NCC_ERR_ALLOC recorded
 * (the list is unchanged). Storage may move: re-read data afterwards. */
NCC_API int32_t ncc_list_reserve(ncc_list* list, int64_t min_capacity);
/* Makes room for one more element (capacity > len). Same convention as ncc_list_reserve. */
NCC_API int32_t ncc_list_grow(ncc_list* list);

/* Host API. */
NCC_API int64_t ncc_list_len(const ncc_list* list); /* 0 for NULL */
/* Element index (negative counts from the end) into *out_bits. 0 ok; -1 when out of range or
 * list is NULL. Never touches the error record. */
NCC_API int32_t ncc_list_get(const ncc_list* list, int64_t index, int64_t* out_bits);
/* Appends an element. 0 ok; -1 with NCC_ERR_ALLOC, or NCC_ERR_STATE for a NULL or read-only
 * list, recorded. */
NCC_API int32_t ncc_list_append(ncc_list* list, int64_t bits);
/* Removes every element and keeps the storage. NULL or read-only: NCC_ERR_STATE recorded. */
NCC_API void ncc_list_clear(ncc_list* list);

/* ---- dict --------------------------------------------------------------------------------- */

/* A new empty dict (int64 keys, values of value_kind) with room for max(8, initial_capacity)
 * entries before its first growth. NULL on failure, as for ncc_list_new. */
NCC_API ncc_dict* ncc_dict_new(int32_t value_kind, int64_t initial_capacity);
/* Frees the dict and its storage. NULL is a no-op. */
NCC_API void ncc_dict_free(ncc_dict* dict);
/* Ensures used < capacity (compacting and/or enlarging, see above). 0 ok; -1 with
 * NCC_ERR_ALLOC recorded (the dict stays valid). Every pointer field and mask may change. */
NCC_API int32_t ncc_dict_grow(ncc_dict* dict);

/* Host API. */
NCC_API int64_t ncc_dict_len(const ncc_dict* dict); /* 0 for NULL */
/* Value of key into *out_bits. 0 found; -1 missing (or dict NULL). Never touches the error
 * record. */
NCC_API int32_t ncc_dict_get(const ncc_dict* dict, int64_t key, int64_t* out_bits);
/* Inserts key (at the end of the order) or overwrites its value (order unchanged). 0 ok; -1
 * with NCC_ERR_ALLOC, or NCC_ERR_STATE for a NULL or read-only dict, recorded. */
NCC_API int32_t ncc_dict_set(ncc_dict* dict, int64_t key, int64_t bits);
/* Deletes key. 0 deleted; -1 missing (error record untouched), or NULL / read-only dict
 * (NCC_ERR_STATE recorded). */
NCC_API int32_t ncc_dict_del(ncc_dict* dict, int64_t key);
/* Removes every entry and keeps the storage (len = used = 0, index all EMPTY). NULL or
 * read-only: NCC_ERR_STATE recorded. */
NCC_API void ncc_dict_clear(ncc_dict* dict);
/* Iteration in insertion order. Start with *pos = 0; while it returns 1, *key and *bits hold
 * the next live entry (either may be NULL) and *pos has advanced past it; 0 at the end. The
 * dict must not be modified during an iteration, except for overwriting values. */
NCC_API int32_t ncc_dict_next(const ncc_dict* dict, int64_t* pos, int64_t* key, int64_t* bits);

/* ---- faults (cold paths of compiled code) ------------------------------------------------- */
/* Each records into the thread-local error record (first fault wins) and returns. entry is the
 * entry-point name (may be NULL or ncc_entry_unknown). */

/* NCC_ERR_INDEX, "list index 7 out of range (length 3)" */
NCC_API void ncc_fault_index(int64_t index, int64_t len, const char* entry);
/* NCC_ERR_INDEX, "<what> index 7 out of range (length 3)": arrays ("array"), baskets ("basket") */
NCC_API void ncc_fault_index_of(const char* what, int64_t index, int64_t len, const char* entry);
/* NCC_ERR_KEY, "key 42 not found" */
NCC_API void ncc_fault_key(int64_t key, const char* entry);
/* NCC_ERR_EMPTY; the message is `what` verbatim, describing the operation, e.g.
 * "pop from empty list" ("operation on an empty container" when NULL or ""). */
NCC_API void ncc_fault_empty(const char* what, const char* entry);
/* NCC_ERR_STATE, "container used before START or after STOP" (a NULL container cell) */
NCC_API void ncc_fault_state(const char* entry);
/* NCC_ERR_STATE, "constant container cannot be modified" (NCC_CONTAINER_READONLY) */
NCC_API void ncc_fault_readonly(const char* entry);

/* "": placeholder entry name for compiled code that has no name to report. */
extern NCC_API const char ncc_entry_unknown[];

/* Lists + dicts created by ncc_list_new / ncc_dict_new and not yet freed, process-wide. */
NCC_API int64_t ncc_live_containers(void);

#ifdef __cplusplus
}
#endif

#endif /* NCC_CONTAINERS_H */

/* spenefett.h -- the C core's public declarations.
 *
 * Rules of this file: plain C declarations only (no #include, no #ifdef, no
 * macros with arguments), because native/_build.py feeds it verbatim to
 * cffi's cdef parser as well as to the C compiler. Every array argument is
 * owned by the caller (numpy), every function checks its inputs and reports
 * a problem through its return code and *bad, never by crashing.
 *
 * Return codes: >= 0 is success (usually a count); a negative value is one
 * of the SP_ERR_* codes below, with *bad holding the offending index (or,
 * for SP_ERR_CAPACITY, the capacity that would have been enough).
 */

enum {
    SP_OK = 0,
    SP_ERR_NONFINITE = -1,  /* a NaN or infinite coordinate; *bad = entity index */
    SP_ERR_INDEX = -2,      /* an index out of range; *bad = where it was found */
    SP_ERR_CAPACITY = -3,   /* an output buffer too small; *bad / counts = sizes needed */
    SP_ERR_ARG = -4,        /* a bad scalar argument; *bad = argument number */
    SP_ERR_OFFSETS = -5,    /* CSR offsets not non-decreasing or past the end; *bad = row */
    SP_ERR_NOMEM = -6,      /* out of memory for a small internal table */
    SP_CHECK_BAD = -10,     /* sp_check_batch: not a valid batch; where = {message, field} */
    SP_CHECK_UNSUPPORTED = -11  /* sp_check_batch: holds what only Python can check */
};

/* First live entity (alive[i] != 0, or every entity if alive is NULL) with a
 * non-finite value among values[i*width .. i*width+width-1]; -1 if none. */
int64_t sp_find_nonfinite(const float *values, int64_t n, int64_t width, const uint8_t *alive);

/* Movement: for every live entity, clamp |vel| to max_speed (writing the
 * clamped velocity back), pos += vel * dt, clamp pos to the world box
 * (x in [0, width], y in [0, height], z in [zmin, zmax]) and recompute its
 * grid cell. Indices whose cell changed go to changed[] (capacity n), in
 * ascending order. pos and vel are n x 3 float32; cell is n int32.
 * world = {width, height, zmin, zmax, cell_size}; grid = {nx, ny}.
 * Returns the number of changed entities. All-or-nothing: on a bad input
 * nothing is written. */
int64_t sp_move(float *pos, float *vel, const uint8_t *alive, int32_t *cell, int64_t n,
                double dt, double max_speed, const double *world, const int32_t *grid,
                int32_t *changed, int64_t *bad);

/* The same integration written as the plain loop anyone would write first:
 * no validation, no liveness, no cells. The movement benchmark's baseline. */
void sp_baseline_move(float *pos, float *vel, int64_t n, float dt, float max_speed,
                      float width, float height, float zmin, float zmax);

/* Interest management: one tick of the uniform-grid AOI.
 *
 * Entity i is an observer if alive[i] and view[i] >= 0 (its radius class);
 * view[i] == -1 marks a non-observer, which is seen but sees nothing.
 * Observer o sees live entity e != o if their x/y distance d satisfies
 * d <= radii[k], or e was in o's previous row and d <= radii[k] + margins[k]
 * (hysteresis). prev_off/prev_ents is last tick's visibility (CSR, rows
 * 0..prev_rows-1, prev_rows <= n); the new one goes to new_off (n + 1) and
 * new_ents (new_cap). Enter and leave events are (observer, entity) pairs
 * in enter[2 * enter_cap] and leave[2 * leave_cap], grouped by ascending
 * observer. counts = {new total, enters, leaves}; if any exceeds its
 * capacity the call returns SP_ERR_CAPACITY with counts holding what is
 * needed (call again with bigger buffers: the previous state is untouched).
 * Scratch: grid_start (nx*ny + 1), grid_ents (n), grid_pos (2n), cell_tmp (n), stamp (n),
 * stamp_state (1; keep it between calls together with stamp).
 * world = {cell_size}; grid = {nx, ny}.
 * due (n bytes, or NULL for all): a live observer with due[o] == 0 is not
 * scanned; it keeps its previous row (empty if o >= prev_rows), less the
 * entities no longer alive (which leave). For callers that read only some
 * views each tick; hysteresis then holds between the ticks a row is scanned. */
int64_t sp_aoi_update(const float *pos, const uint8_t *alive, const int8_t *view, const uint8_t *due, int64_t n,
                      const double *radii, const double *margins, int32_t nclasses,
                      double cell_size, const int32_t *grid,
                      int32_t *grid_start, int32_t *grid_ents, float *grid_pos, int32_t *cell_tmp,
                      uint32_t *stamp, uint32_t *stamp_state,
                      const int32_t *prev_off, const int32_t *prev_ents,
                      int64_t prev_rows, int64_t prev_len,
                      int32_t *new_off, int32_t *new_ents, int64_t new_cap,
                      int32_t *enter, int64_t enter_cap, int32_t *leave, int64_t leave_cap,
                      int64_t *counts, int64_t *bad);

/* Update packing: for each client c = clients[j], the msgpack array of
 * position update messages [type_id, guids[c], guids[e], x, y, z] (floats
 * as float64, ints in msgpack's smallest form, exactly what msgpack-python
 * writes) for every e in row c of the CSR off/ents, all into out.
 * bounds[j] .. bounds[j + 1] is client j's frame. Returns bytes written. */
int64_t sp_pack_updates(const int32_t *clients, int64_t nclients,
                        const int32_t *off, const int32_t *ents, int64_t rows, int64_t len,
                        const uint64_t *guids, const float *pos, int64_t n, int64_t type_id,
                        uint8_t *out, int64_t out_cap, int64_t *bounds, int64_t *bad);

/* Update picking by distance band. Observer k sees the Guids
 * seen[seen_off[k] .. seen_off[k + 1]) (in any order), stands
 * at obs_xy[2k], obs_xy[2k + 1], and is at phase[k] of its catch-up cycle.
 * moved (nmoved Guids, each once, any order) are the bodies that moved
 * lately, ages[j] ticks ago, at moved_xy[j * xy_stride] (x) and the next
 * double (y). A seen body that moved is picked when phase[k] == 0 (the
 * observer's catch-up tick), or when its age <= mask and (phase[k] & mask)
 * == 0, mask = masks[b] with b the number of bands2 (nbands squared radii,
 * ascending) its squared distance is >= to. out gets the moved indexes
 * picked, observer after observer; ends[k] is where observer k's end.
 * Returns the number picked; out_cap >= seen_off[nobs] is always enough;
 * SP_ERR_ARG with *bad = 6 if a Guid of moved comes twice. */
int64_t sp_pick_updates(const uint64_t *seen, const int64_t *seen_off, int64_t nobs, int64_t nseen,
                        const double *obs_xy, const int8_t *phase,
                        const uint64_t *moved, const int8_t *ages, const double *moved_xy,
                        int64_t xy_stride, int64_t nmoved,
                        const double *bands2, const int8_t *masks, int32_t nbands,
                        int64_t *out, int64_t out_cap, int64_t *ends, int64_t *bad);

/* Views recomputed from the AOI rows (off/ents: nrows rows of table slots,
 * CSR), and what changed. Observer k stands in slot obs_slot[k] and sees
 * the slots of its row other than its own with may_see[slot] != 0, each
 * once. rank (a permutation of 0 .. nslots - 1) orders the slots by Guid
 * and by_rank[r] is the Guid of rank r. old[old_off[k] .. old_off[k + 1])
 * is observer k's previous view, strictly ascending. Writes, observer
 * after observer, each ascending: view (the new view), added (in view, not
 * in old), kept (in both), removed (in old, not in view); *_end[k] is
 * where observer k's end. new_cap bounds view, added and kept (the sum of
 * the observers' row lengths is enough), removed_cap removed (nold is).
 * seen[slot] (nslots, zeroed by the caller) is set to 1 for every slot in
 * some observer's view.
 * Returns the length of view; SP_ERR_INDEX (*bad = position in ents) for a
 * slot out of range, SP_ERR_ARG with *bad = 5 (rank not in range), 8 (an
 * observer slot not a row), 11 (old not ascending). */
int64_t sp_view_diffs(const int32_t *off, const int32_t *ents, int64_t nrows, int64_t nents,
                      const uint8_t *may_see, const int32_t *rank, const uint64_t *by_rank, int64_t nslots,
                      const int64_t *obs_slot, int64_t nobs,
                      const uint64_t *old, const int64_t *old_off, int64_t nold,
                      uint64_t *view, int64_t *view_end, uint64_t *added, int64_t *added_end,
                      uint64_t *kept, int64_t *kept_end, int64_t new_cap,
                      uint64_t *removed, int64_t *removed_end, int64_t removed_cap, uint8_t *seen, int64_t *bad);

/* Message batch validation: walk a msgpack batch [[type_id, to, frm, ...], ...]
 * and check every message against its type's schema without building any
 * object (encoding in native/check.c). Returns the number of messages, or
 * SP_CHECK_BAD (where = {message index, field index or -1}) or
 * SP_CHECK_UNSUPPORTED (a nested message field: leave it to Python). */
int64_t sp_check_batch(const uint8_t *data, int64_t len, const int64_t *tids, const int32_t *arity,
                       const int32_t *schema_at, int32_t ntypes, const uint8_t *schema,
                       int64_t schema_len, int64_t max_messages, int64_t *where);

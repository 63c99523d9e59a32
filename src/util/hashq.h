/*
 * hashq — SHA-256 on another core while the caller writes.
 *
 * Staging writes every new file of a migration and must know each one's
 * hash. Hashing on the writing thread puts some 30 ms of SHA-256 for a
 * 30 MB change in series with the writes; with a hashq, the caller reads
 * each chunk into a buffer the queue lends, writes it, and hands it over;
 * one worker thread hashes the chunks in the order given while the caller
 * reads and writes the next. The chunks of stream i (a file) come one
 * after the other, the last one marked; ns_hashq_finish() waits for the
 * worker and then ns_hashq_digest(q, i) is stream i's hash.
 *
 * The worker only hashes: every step that changes anything stays on the
 * calling thread, in its order (kill points stay where they were). When
 * no thread can be started the queue hashes on the caller's thread.
 */
#ifndef NS_HASHQ_H
#define NS_HASHQ_H

#include <stddef.h>

#include "hash.h"

struct ns_hashq;

/* a queue for streams 0..streams-1 */
struct ns_hashq *ns_hashq_new(size_t streams);
/* a free buffer of *cap bytes; waits while all are being hashed */
void *ns_hashq_buffer(struct ns_hashq *q, size_t *cap);
/* buf (from ns_hashq_buffer) holds len bytes of stream i; last ends the
 * stream (len may be 0). The buffer is the queue's again. */
void ns_hashq_submit(struct ns_hashq *q, size_t i, void *buf, size_t len,
		     int last);
/* wait until every chunk submitted is hashed */
void ns_hashq_finish(struct ns_hashq *q);
/* after ns_hashq_finish: the hash of stream i, or NULL if it never ended */
const char *ns_hashq_digest(const struct ns_hashq *q, size_t i);
void ns_hashq_free(struct ns_hashq *q);

#endif

#include "hashq.h"
#include "xalloc.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define CHUNK (1 << 16)
#define NBUF  16
/* the worker is woken when this many chunks wait (or the caller needs a
 * buffer, or finishes): hashing a chunk takes a fraction of the time the
 * caller takes to read and write one, so a worker woken for each chunk
 * would sleep and wake again for every one of them, and each wake-up is
 * two system calls and a switch of task */
#define BATCH 8

struct chunk {
	struct chunk *next;
	size_t stream, len;
	int last;
	char data[CHUNK];
};

struct ns_hashq {
	pthread_mutex_t lock;
	pthread_cond_t work, freed;
	pthread_t worker;
	int threaded, closing, idle;
	size_t queued;
	struct chunk *free, *head, **tail;
	struct ns_sha256 *h; /* the stream being hashed */
	char (*digest)[NS_HEX_LEN + 1];
	unsigned char *ended;
	size_t streams;
	struct chunk pool[NBUF];
};

/* on the worker (or the caller when there is no thread) */
static void hash_chunk(struct ns_hashq *q, const struct chunk *c)
{
	if (!q->h)
		q->h = ns_sha256_new();
	if (c->len)
		ns_sha256_update(q->h, c->data, c->len);
	if (c->last) {
		ns_sha256_finish(q->digest[c->stream], q->h);
		q->h = NULL;
		q->ended[c->stream] = 1;
	}
}

static void *work(void *arg)
{
	struct ns_hashq *q = arg;
	struct chunk *c;

	pthread_mutex_lock(&q->lock);
	for (;;) {
		while (!q->head && !q->closing) {
			q->idle = 1;
			pthread_cond_wait(&q->work, &q->lock);
			q->idle = 0;
		}
		if (!(c = q->head))
			break;
		if (!(q->head = c->next))
			q->tail = &q->head;
		q->queued--;
		pthread_mutex_unlock(&q->lock);
		hash_chunk(q, c);
		pthread_mutex_lock(&q->lock);
		c->next = q->free;
		q->free = c;
		pthread_cond_signal(&q->freed);
	}
	pthread_mutex_unlock(&q->lock);
	return NULL;
}

struct ns_hashq *ns_hashq_new(size_t streams)
{
	struct ns_hashq *q = xcalloc(1, sizeof(*q));

	pthread_mutex_init(&q->lock, NULL);
	pthread_cond_init(&q->work, NULL);
	pthread_cond_init(&q->freed, NULL);
	q->tail = &q->head;
	q->streams = streams;
	q->digest = xcalloc(streams ? streams : 1, sizeof(*q->digest));
	q->ended = xcalloc(streams ? streams : 1, 1);
	for (size_t i = 0; i < NBUF; i++) {
		q->pool[i].next = q->free;
		q->free = &q->pool[i];
	}
	q->threaded = pthread_create(&q->worker, NULL, work, q) == 0;
	return q;
}

void *ns_hashq_buffer(struct ns_hashq *q, size_t *cap)
{
	struct chunk *c;

	pthread_mutex_lock(&q->lock);
	if (!q->free && q->idle)
		pthread_cond_signal(&q->work);
	while (!q->free)
		pthread_cond_wait(&q->freed, &q->lock);
	c = q->free;
	q->free = c->next;
	pthread_mutex_unlock(&q->lock);
	*cap = CHUNK;
	return c->data;
}

void ns_hashq_submit(struct ns_hashq *q, size_t i, void *buf, size_t len,
		     int last)
{
	struct chunk *c =
		(struct chunk *)((char *)buf - offsetof(struct chunk, data));

	if (i >= q->streams)
		abort(); /* a caller's mistake, never input */
	c->stream = i;
	c->len = len;
	c->last = last;
	c->next = NULL;
	if (!q->threaded) {
		hash_chunk(q, c);
		c->next = q->free;
		q->free = c;
		return;
	}
	pthread_mutex_lock(&q->lock);
	*q->tail = c;
	q->tail = &c->next;
	if (++q->queued >= BATCH && q->idle)
		pthread_cond_signal(&q->work);
	pthread_mutex_unlock(&q->lock);
}

void ns_hashq_finish(struct ns_hashq *q)
{
	if (!q->threaded)
		return;
	pthread_mutex_lock(&q->lock);
	q->closing = 1;
	pthread_cond_signal(&q->work);
	pthread_mutex_unlock(&q->lock);
	pthread_join(q->worker, NULL);
	q->threaded = 0;
}

const char *ns_hashq_digest(const struct ns_hashq *q, size_t i)
{
	return i < q->streams && q->ended[i] ? q->digest[i] : NULL;
}

void ns_hashq_free(struct ns_hashq *q)
{
	char junk[NS_HEX_LEN + 1];

	if (!q)
		return;
	ns_hashq_finish(q);
	if (q->h)
		ns_sha256_finish(junk, q->h);
	pthread_mutex_destroy(&q->lock);
	pthread_cond_destroy(&q->work);
	pthread_cond_destroy(&q->freed);
	free(q->digest);
	free(q->ended);
	free(q);
}

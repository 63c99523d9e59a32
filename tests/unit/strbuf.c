/* strbuf: appends, detach and reset, the cap, reading a descriptor */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "strbuf.h"
#include "xalloc.h"

static void test_init_is_empty(void **state)
{
	struct strbuf a = STRBUF_INIT, b;

	(void)state;
	strbuf_init(&b);
	assert_non_null(a.buf);
	assert_string_equal(a.buf, "");
	assert_int_equal(a.len, 0);
	assert_int_equal(a.cap, 0);
	assert_ptr_equal(b.buf, strbuf_empty);
	assert_int_equal(b.len, 0);
	/* releasing a buffer that never grew, twice, is safe */
	strbuf_release(&a);
	strbuf_release(&a);
	assert_ptr_equal(a.buf, strbuf_empty);
}

static void test_add_variants(void **state)
{
	struct strbuf sb = STRBUF_INIT;

	(void)state;
	assert_int_equal(strbuf_add(&sb, "abc", 3), 0);
	assert_int_equal(strbuf_addstr(&sb, "-def"), 0);
	assert_int_equal(strbuf_addch(&sb, '!'), 0);
	assert_int_equal(strbuf_addf(&sb, " %d/%s/%04x", 42, "x", 0xbe), 0);
	assert_string_equal(sb.buf, "abc-def! 42/x/00be");
	assert_int_equal(sb.len, strlen("abc-def! 42/x/00be"));
	assert_true(sb.alloc > sb.len);
	/* an empty append changes nothing */
	assert_int_equal(strbuf_add(&sb, "", 0), 0);
	assert_int_equal(strbuf_addstr(&sb, ""), 0);
	assert_int_equal(sb.len, 18);
	strbuf_release(&sb);
	assert_ptr_equal(sb.buf, strbuf_empty);
	assert_int_equal(sb.len, 0);
	assert_int_equal(sb.alloc, 0);
}

/* bytes, not C strings: a NUL inside is kept and counted */
static void test_binary(void **state)
{
	struct strbuf sb = STRBUF_INIT;
	static const char bytes[] = { 'a', '\0', 'b', '\xff', '\0' };

	(void)state;
	assert_int_equal(strbuf_add(&sb, bytes, sizeof(bytes)), 0);
	assert_int_equal(strbuf_addch(&sb, 0), 0);
	assert_int_equal(sb.len, sizeof(bytes) + 1);
	assert_memory_equal(sb.buf, bytes, sizeof(bytes));
	assert_int_equal(sb.buf[sizeof(bytes)], '\0');
	assert_int_equal(sb.buf[sb.len], '\0');
	strbuf_release(&sb);
}

/* growth far past the first allocation, through every append kind */
static void test_growth(void **state)
{
	struct strbuf sb = STRBUF_INIT;
	char *want = xmalloc(100001);

	(void)state;
	for (int i = 0; i < 100000; i++) {
		want[i] = (char)('a' + i % 26);
		if (i % 3 == 0)
			assert_int_equal(strbuf_addch(&sb, want[i]), 0);
		else if (i % 3 == 1)
			assert_int_equal(strbuf_addf(&sb, "%c", want[i]), 0);
		else
			assert_int_equal(strbuf_add(&sb, &want[i], 1), 0);
	}
	want[100000] = '\0';
	assert_int_equal(sb.len, 100000);
	assert_string_equal(sb.buf, want);
	strbuf_reset(&sb);
	/* one formatted append longer than the whole buffer so far */
	assert_int_equal(strbuf_addf(&sb, "<%0*d>", 200000, 7), 0);
	assert_int_equal(sb.len, 200002);
	assert_int_equal(sb.buf[0], '<');
	assert_int_equal(sb.buf[1], '0');
	assert_int_equal(sb.buf[200000], '7');
	assert_int_equal(sb.buf[200001], '>');
	assert_int_equal(sb.buf[200002], '\0');
	strbuf_release(&sb);
	free(want);
}

static void test_detach(void **state)
{
	struct strbuf sb = STRBUF_INIT;
	size_t len = 99;
	char *p;

	(void)state;
	strbuf_addstr(&sb, "hello");
	p = strbuf_detach(&sb, &len);
	assert_string_equal(p, "hello");
	assert_int_equal(len, 5);
	/* the buffer is the caller's now; sb is empty and reusable */
	assert_ptr_equal(sb.buf, strbuf_empty);
	assert_int_equal(sb.len, 0);
	assert_int_equal(sb.alloc, 0);
	free(p);
	strbuf_addstr(&sb, "again");
	assert_string_equal(sb.buf, "again");
	p = strbuf_detach(&sb, NULL);
	assert_string_equal(p, "again");
	free(p);

	/* detaching a buffer that never grew gives a heap "" too */
	len = 99;
	p = strbuf_detach(&sb, &len);
	assert_non_null(p);
	assert_ptr_not_equal(p, strbuf_empty);
	assert_string_equal(p, "");
	assert_int_equal(len, 0);
	free(p);
}

static void test_reset(void **state)
{
	struct strbuf sb = STRBUF_INIT;
	size_t alloc;

	(void)state;
	strbuf_reset(&sb); /* on the shared empty buffer: no write */
	assert_string_equal(sb.buf, "");
	strbuf_addstr(&sb, "some text that grows the buffer");
	alloc = sb.alloc;
	strbuf_reset(&sb);
	assert_int_equal(sb.len, 0);
	assert_string_equal(sb.buf, "");
	assert_int_equal(sb.alloc, alloc); /* kept for reuse */
	strbuf_addf(&sb, "%s=%d", "n", 3);
	assert_string_equal(sb.buf, "n=3");
	strbuf_release(&sb);
}

/* an append that would pass the cap fails and leaves the buffer as it was */
static void test_cap_refusal(void **state)
{
	struct strbuf sb = STRBUF_INIT;
	size_t alloc;

	(void)state;
	strbuf_set_cap(&sb, 10);
	assert_int_equal(strbuf_add(&sb, "12345678", 8), 0);
	alloc = sb.alloc;

	errno = 0;
	assert_int_equal(strbuf_add(&sb, "abc", 3), -1);
	assert_int_equal(errno, EFBIG);
	assert_int_equal(sb.len, 8);
	assert_string_equal(sb.buf, "12345678");
	assert_int_equal(sb.alloc, alloc);

	errno = 0;
	assert_int_equal(strbuf_addf(&sb, "%s", "xyz"), -1);
	assert_int_equal(errno, EFBIG);
	assert_string_equal(sb.buf, "12345678");

	assert_int_equal(strbuf_addstr(&sb, "long enough to pass"), -1);
	assert_string_equal(sb.buf, "12345678");
	assert_int_equal(sb.len, 8);

	/* exactly up to the cap is allowed, one more byte is not */
	assert_int_equal(strbuf_addstr(&sb, "9A"), 0);
	assert_string_equal(sb.buf, "123456789A");
	assert_int_equal(strbuf_addch(&sb, 'B'), -1);
	assert_int_equal(sb.len, 10);
	assert_string_equal(sb.buf, "123456789A");

	/* reset frees room under the same cap */
	strbuf_reset(&sb);
	assert_int_equal(strbuf_addstr(&sb, "0123456789"), 0);
	assert_int_equal(strbuf_addch(&sb, 'x'), -1);
	strbuf_release(&sb);

	/* a cap of 0 is no cap */
	strbuf_set_cap(&sb, 0);
	assert_int_equal(strbuf_addf(&sb, "%0*d", 5000, 1), 0);
	assert_int_equal(sb.len, 5000);
	strbuf_release(&sb);
}

/* a file descriptor read whole, across many read() calls */
static void test_read_fd(void **state)
{
	struct strbuf sb = STRBUF_INIT;
	size_t len = 300000 + 17; /* several of read_fd's 64 KiB chunks */
	unsigned char *data = xmalloc(len);
	int fds[2];
	pid_t pid;
	int status;

	(void)state;
	for (size_t i = 0; i < len; i++)
		data[i] = (unsigned char)(i * 7 + (i >> 9));
	assert_int_equal(pipe(fds), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		/* the writer: in pieces, so the reader sees short reads */
		close(fds[0]);
		for (size_t off = 0; off < len;) {
			size_t n = len - off < 4099 ? len - off : 4099;
			ssize_t w = write(fds[1], data + off, n);
			if (w <= 0)
				_exit(1);
			off += (size_t)w;
		}
		_exit(0);
	}
	close(fds[1]);
	strbuf_addstr(&sb, "head:");
	assert_int_equal(strbuf_read_fd(&sb, fds[0]), 0);
	close(fds[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	/* appended after what was there */
	assert_int_equal(sb.len, 5 + len);
	assert_memory_equal(sb.buf, "head:", 5);
	assert_memory_equal(sb.buf + 5, data, len);
	assert_int_equal(sb.buf[sb.len], '\0');
	strbuf_release(&sb);
	free(data);
}

static void test_read_fd_empty_and_errors(void **state)
{
	struct strbuf sb = STRBUF_INIT;
	int fd = open("/dev/null", O_RDONLY);

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(strbuf_read_fd(&sb, fd), 0);
	assert_int_equal(sb.len, 0);
	assert_string_equal(sb.buf, "");
	close(fd);

	errno = 0;
	assert_int_equal(strbuf_read_fd(&sb, -1), -1);
	assert_int_equal(errno, EBADF);
	assert_int_equal(sb.len, 0);
	strbuf_release(&sb);
}

/* input past the cap is refused with EFBIG; the cap is never passed */
static void test_read_fd_cap(void **state)
{
	struct strbuf sb = STRBUF_INIT;
	char chunk[1000];
	int fds[2];

	(void)state;
	memset(chunk, 'q', sizeof(chunk));
	assert_int_equal(pipe(fds), 0);
	assert_int_equal(write(fds[1], chunk, sizeof(chunk)), 1000);
	close(fds[1]);
	strbuf_set_cap(&sb, 999);
	errno = 0;
	assert_int_equal(strbuf_read_fd(&sb, fds[0]), -1);
	assert_int_equal(errno, EFBIG);
	assert_true(sb.len <= 999);
	close(fds[0]);
	strbuf_release(&sb);

	/* exactly at the cap is fine */
	assert_int_equal(pipe(fds), 0);
	assert_int_equal(write(fds[1], chunk, sizeof(chunk)), 1000);
	close(fds[1]);
	strbuf_set_cap(&sb, 1000);
	assert_int_equal(strbuf_read_fd(&sb, fds[0]), 0);
	assert_int_equal(sb.len, 1000);
	assert_memory_equal(sb.buf, chunk, 1000);
	close(fds[0]);
	strbuf_release(&sb);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_init_is_empty),
		cmocka_unit_test(test_add_variants),
		cmocka_unit_test(test_binary),
		cmocka_unit_test(test_growth),
		cmocka_unit_test(test_detach),
		cmocka_unit_test(test_reset),
		cmocka_unit_test(test_cap_refusal),
		cmocka_unit_test(test_read_fd),
		cmocka_unit_test(test_read_fd_empty_and_errors),
		cmocka_unit_test(test_read_fd_cap),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

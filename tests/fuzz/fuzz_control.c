/*
 * fuzz_control.c - libFuzzer target for the control socket's command line
 * (daemon/control.c): the line discipline a local client meets before
 * the master sees a command.
 *
 * One control socket is opened, in a private folder, on a libev loop of
 * its own.  Each input is sent by a new client as chunks (a length byte,
 * then that many bytes; the last one cut short by the end of the input),
 * one loop iteration after each so that the fuzzer picks what one read
 * sees; then the client shuts its side and reads the answer to its end.
 * A command callback records the line and answers at once.
 *
 * What must hold: the client gets exactly one answer line (or none, when
 * it sent nothing); the callback sees the bytes before the first newline,
 * without trailing blanks, only when they are at most NL_CONTROL_MAX_LINE
 * bytes and hold no NUL; "command too long" and "NUL byte in command"
 * only when the input is that.
 */
#include "config.h"

#include "fuzz.h"

#include <ev.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "control.h"

#define MAX_INPUT 8192

static struct ev_loop *loop;
static struct nl_control *ctl;
static char dir[64];
static char sock_path[128];
static char got[NL_CONTROL_MAX_LINE + 2];
static int got_cmd;
static size_t got_len;

static void
on_command(void *arg, struct nl_control_client *c, const char *line)
{
    (void)arg;
    got_len = strlen(line);
    if (got_len > NL_CONTROL_MAX_LINE)
        abort(); /* longer than a command may be */
    memcpy(got, line, got_len);
    got_cmd++;
    nl_control_reply(c, "{\"ok\": true}");
}

static void
cleanup(void)
{
    nl_control_close(ctl);
    rmdir(dir);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char err[256];

    (void)argc;
    (void)argv;
    snprintf(dir, sizeof(dir), "%s/netlabd-fuzz-control.XXXXXX", nl_fuzz_tmp_dir());
    if (mkdtemp(dir) == NULL) {
        perror("mkdtemp");
        abort();
    }
    snprintf(sock_path, sizeof(sock_path), "%s/control.sock", dir);
    loop = ev_loop_new(EVFLAG_AUTO);
    ctl = nl_control_open(loop, sock_path, 0600, on_command, NULL, err,
                          sizeof(err));
    if (loop == NULL || ctl == NULL) {
        fprintf(stderr, "fuzz_control: %s\n", err);
        abort();
    }
    atexit(cleanup);
    return 0;
}

static int
client_connect(void)
{
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

    snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", sock_path);
    if (fd == -1 || connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1)
        abort();
    return fd;
}

/* Runs the loop until the server closes the client; returns the answer's
 * length in buf (NUL-terminated). */
static size_t
read_answer(int fd, char *buf, size_t size)
{
    size_t len = 0;

    for (int i = 0; i < 10000; i++) {
        ssize_t n;

        ev_run(loop, EVRUN_NOWAIT);
        n = recv(fd, buf + len, size - 1 - len, MSG_DONTWAIT);
        if (n == 0) {
            buf[len] = '\0';
            return len;
        }
        if (n > 0)
            len += (size_t)n;
        if (len >= size - 1)
            abort(); /* an answer far longer than any we give */
    }
    abort(); /* the server never closed the client */
}

/* The command line the callback must get for input in[0..n), or -1 when
 * it must not be called. */
static long
expected_line(const char *in, size_t n)
{
    const char *nl = memchr(in, '\n', n);
    size_t len = nl != NULL ? (size_t)(nl - in) : n;

    if (len > NL_CONTROL_MAX_LINE || memchr(in, '\0', len) != NULL ||
        (nl == NULL && n == 0))
        return -1;
    while (len > 0 &&
           (in[len - 1] == ' ' || in[len - 1] == '\t' || in[len - 1] == '\r'))
        len--;
    return (long)len;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char sent[MAX_INPUT], answer[256];
    size_t nsent = 0, alen, first = NL_CONTROL_MAX_LINE + 1;
    int fd;
    long want;

    if (size > MAX_INPUT)
        return 0;
    got_cmd = 0;
    fd = client_connect();
    ev_run(loop, EVRUN_NOWAIT); /* accept */
    while (size > 0) {
        size_t len = data[0] < size - 1 ? data[0] : size - 1;

        memcpy(sent + nsent, data + 1, len);
        nsent += len;
        /* The server may have closed or stopped reading: ignore EPIPE. */
        (void)!send(fd, data + 1, len, MSG_NOSIGNAL);
        data += 1 + len;
        size -= 1 + len;
        ev_run(loop, EVRUN_NOWAIT);
    }
    shutdown(fd, SHUT_WR);
    alen = read_answer(fd, answer, sizeof(answer));
    close(fd);

    if (nsent < first)
        first = nsent;
    want = expected_line(sent, nsent);
    if (got_cmd > 1)
        abort(); /* one command per connection */
    if (alen == 0) {
        /* Closed without an answer: only when nothing was sent. */
        if (nsent != 0 || got_cmd)
            abort();
        return 0;
    }
    if (answer[alen - 1] != '\n' || memchr(answer, '\n', alen) != answer + alen - 1)
        abort(); /* one answer line */
    if (got_cmd) {
        if (want < 0 || (size_t)want != got_len ||
            memcmp(got, sent, got_len) != 0)
            abort(); /* a command other than the line sent */
    } else if (strstr(answer, "NUL byte") != NULL) {
        if (memchr(sent, '\0', first) == NULL)
            abort();
    } else if (strstr(answer, "too long") != NULL) {
        if (nsent <= NL_CONTROL_MAX_LINE || memchr(sent, '\n', first) != NULL)
            abort();
    } else {
        abort(); /* an answer from nowhere */
    }
    return 0;
}

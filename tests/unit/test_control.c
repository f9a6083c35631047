/*
 * test_control.c - the control socket's line discipline, driven by real
 * client sockets against a control served on a private ev_loop: one line
 * in, one JSON line out and the connection closed; stripping; EOF without a
 * newline; refusing over-long lines and NUL bytes; answers given later;
 * the client limit and who gives way to a newcomer when it is reached; the
 * socket file (mode, "in use", removal); closing in a forked child; and, in
 * the one slow test, the deadline for the command line.
 */
#include "config.h"

#include <errno.h>
#include <ev.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "control.h"
#include "util.h"

#define PONG    "{\"pong\": true}\n"
#define LATER   "{\"later\": true}\n"
#define UNKNOWN "{\"error\": \"unknown command\"}\n"
#define WAIT    2.0 /* seconds any answer that is due may take */

static struct ev_loop *loop;
static struct nl_control *ctl;
static char dir[64], path[128];

/* What the command callback saw, and the clients it has not answered. */
static int ncalls;
static char last_line[2 * NL_CONTROL_MAX_LINE];
static struct nl_control_client *later;     /* answered by later_timer */
static struct nl_control_client *held[128]; /* answered by the test */
static int nheld;
static ev_timer later_timer;
static double later_delay;
/* Sockets open before the control was (left over by a failed test). */
static char socket_before[1024];

static int
is_socket(int fd)
{
    struct stat st;

    return fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode);
}

static void
later_cb(struct ev_loop *l, ev_timer *t, int revents)
{
    if (later != NULL)
        nl_control_reply(later, "{\"later\": true}");
    later = NULL;
}

static void
cmd_cb(void *arg, struct nl_control_client *c, const char *line)
{
    /* The callback's argument is passed through. */
    if (arg != &ncalls)
        return;
    ncalls++;
    snprintf(last_line, sizeof(last_line), "%s", line);
    if (strcmp(line, "ping") == 0) {
        nl_control_reply(c, "{\"pong\": true}");
    } else if (strcmp(line, "later") == 0) {
        later = c;
        ev_timer_set(&later_timer, later_delay, 0.0);
        ev_timer_start(loop, &later_timer);
    } else if (strcmp(line, "hold") == 0 &&
               nheld < (int)(sizeof(held) / sizeof(held[0]))) {
        held[nheld++] = c;
    } else {
        nl_control_reply(c, "{\"error\": \"unknown command\"}");
    }
}

static int
setup(void **state)
{
    char err[256];

    snprintf(dir, sizeof(dir), "/tmp/nl-control-XXXXXX");
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/ctl.sock", dir);
    loop = ev_loop_new(EVFLAG_AUTO);
    assert_non_null(loop);
    ncalls = 0;
    nheld = 0;
    later = NULL;
    later_delay = 0.05;
    last_line[0] = '\0';
    ev_timer_init(&later_timer, later_cb, 0.0, 0.0);
    for (int fd = 0; fd < (int)sizeof(socket_before); fd++)
        socket_before[fd] = (char)is_socket(fd);
    ctl = nl_control_open(loop, path, 0600, cmd_cb, &ncalls, err, sizeof(err));
    if (ctl == NULL)
        fail_msg("nl_control_open: %s", err);
    return 0;
}

static int
teardown(void **state)
{
    ev_timer_stop(loop, &later_timer);
    nl_control_close(ctl);
    ctl = NULL;
    ev_loop_destroy(loop);
    loop = NULL;
    unlink(path);
    rmdir(dir);
    return 0;
}

static int
connect_to(const char *p)
{
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

    assert_true(fd != -1);
    assert_true(strlen(p) < sizeof(sun.sun_path));
    memcpy(sun.sun_path, p, strlen(p) + 1);
    if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
        close(fd);
        return -1;
    }
    return fd;
}

static int
client(void)
{
    int fd = connect_to(path);

    assert_true(fd != -1);
    return fd;
}

static void
put(int fd, const void *p, size_t n)
{
    assert_int_equal(send(fd, p, n, MSG_NOSIGNAL), (ssize_t)n);
}

static void
puts_fd(int fd, const char *s)
{
    put(fd, s, strlen(s));
}

/* Runs the loop for a little while: enough to accept and read. */
static void
spin(void)
{
    double end = nl_now() + 0.02;

    for (int i = 0; i < 200 || nl_now() < end; i++)
        ev_run(loop, EVRUN_NOWAIT);
}

/* Runs the loop until ncalls reaches n; fails after WAIT seconds. */
static void
run_until_calls(int n)
{
    double end = nl_now() + WAIT;

    while (ncalls < n) {
        if (nl_now() > end)
            fail_msg("%d commands dispatched, %d expected", ncalls, n);
        ev_run(loop, EVRUN_NOWAIT);
        poll(NULL, 0, 1);
    }
}

/*
 * Runs the loop (when run) until the server closes fd, collecting what it
 * sent into buf.  Returns the bytes received, or -1 if the connection was
 * still open after timeout seconds.  A reset after the answer (the server
 * closed with unread input) counts as closed.
 */
static ssize_t
answer_within(int fd, char *buf, size_t len, double timeout, int run)
{
    double end = nl_now() + timeout;
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    size_t got = 0;

    buf[0] = '\0';
    while (nl_now() < end) {
        ssize_t n;

        if (run)
            ev_run(loop, EVRUN_NOWAIT);
        n = recv(fd, buf + got, len - 1 - got, MSG_DONTWAIT);
        if (n > 0) {
            got += (size_t)n;
            buf[got] = '\0';
            assert_true(got < len - 1);
            continue;
        }
        if (n == 0 || errno == ECONNRESET)
            return (ssize_t)got;
        assert_true(errno == EAGAIN || errno == EWOULDBLOCK);
        poll(&pfd, 1, 1);
    }
    return -1;
}

/* The whole answer on fd, which must then be closed by the server. */
static const char *
answer(int fd)
{
    static char buf[4096];

    if (answer_within(fd, buf, sizeof(buf), WAIT, 1) == -1)
        fail_msg("no end of answer after %.1f s (got \"%s\")", WAIT, buf);
    return buf;
}

/* Sends text on a new connection and returns the answer. */
static const char *
ask(const char *text)
{
    int fd = client();
    const char *a;

    puts_fd(fd, text);
    a = answer(fd);
    close(fd);
    return a;
}

static void
test_one_line_one_answer(void **state)
{
    int fd = client();
    const char *a;

    puts_fd(fd, "ping\n");
    a = answer(fd);
    assert_string_equal(a, PONG);
    /* One line: the only newline ends it. */
    assert_ptr_equal(strchr(a, '\n'), a + strlen(a) - 1);
    assert_int_equal(ncalls, 1);
    assert_string_equal(last_line, "ping");
    close(fd);

    assert_string_equal(ask("frobnicate now\n"), UNKNOWN);
    assert_string_equal(last_line, "frobnicate now");
    assert_int_equal(ncalls, 2);
}

static void
test_trailing_space_stripped(void **state)
{
    assert_string_equal(ask("ping\r\n"), PONG);
    assert_string_equal(last_line, "ping");
    assert_string_equal(ask("ping \t \r\n"), PONG);
    assert_string_equal(last_line, "ping");
    /* Inner spaces are part of the command. */
    assert_string_equal(ask("status  web \r\n"), UNKNOWN);
    assert_string_equal(last_line, "status  web");
    /* Nothing but white space is an empty command, still answered. */
    assert_string_equal(ask(" \r\n"), UNKNOWN);
    assert_string_equal(last_line, "");
    assert_int_equal(ncalls, 4);
}

static void
test_eof_without_newline(void **state)
{
    int fd = client();

    puts_fd(fd, "ping");
    assert_int_equal(shutdown(fd, SHUT_WR), 0);
    assert_string_equal(answer(fd), PONG);
    assert_string_equal(last_line, "ping");
    close(fd);

    /* EOF with nothing sent: closed, no command, no answer. */
    fd = client();
    assert_int_equal(shutdown(fd, SHUT_WR), 0);
    assert_string_equal(answer(fd), "");
    assert_int_equal(ncalls, 1);
    close(fd);
}

static void
test_split_and_interleaved(void **state)
{
    int a = client(), b = client();

    /* a's command arrives in pieces; b is served meanwhile. */
    puts_fd(a, "pi");
    spin();
    puts_fd(b, "ping\n");
    assert_string_equal(answer(b), PONG);
    assert_int_equal(ncalls, 1);
    puts_fd(a, "n");
    spin();
    assert_int_equal(ncalls, 1);
    /* What follows the newline is not a second command. */
    puts_fd(a, "g\nstop\n");
    assert_string_equal(answer(a), PONG);
    assert_string_equal(last_line, "ping");
    assert_int_equal(ncalls, 2);
    close(a);
    close(b);
}

static void
test_line_length(void **state)
{
    char line[NL_CONTROL_MAX_LINE + 2];
    const char *too_long = "{\"error\": \"command too long\"}\n";
    int fd;

    /* NL_CONTROL_MAX_LINE bytes and the newline still fit. */
    memset(line, 'x', NL_CONTROL_MAX_LINE);
    line[NL_CONTROL_MAX_LINE] = '\n';
    line[NL_CONTROL_MAX_LINE + 1] = '\0';
    assert_string_equal(ask(line), UNKNOWN);
    assert_int_equal(strlen(last_line), NL_CONTROL_MAX_LINE);
    assert_int_equal(ncalls, 1);

    /* One byte more than the limit, newline or not, is refused. */
    memset(line, 'x', NL_CONTROL_MAX_LINE + 1);
    line[NL_CONTROL_MAX_LINE + 1] = '\0';
    assert_string_equal(ask(line), too_long);

    /* Also when it comes in pieces, none of them too long. */
    fd = client();
    put(fd, line, NL_CONTROL_MAX_LINE / 2);
    spin();
    put(fd, line, NL_CONTROL_MAX_LINE / 2 + 1);
    assert_string_equal(answer(fd), too_long);
    close(fd);
    assert_int_equal(ncalls, 1);
}

static void
test_nul_byte(void **state)
{
    const char *nul = "{\"error\": \"NUL byte in command\"}\n";
    int fd = client();

    put(fd, "pi\0ng\n", 6);
    assert_string_equal(answer(fd), nul);
    close(fd);

    /* In a later piece too. */
    fd = client();
    puts_fd(fd, "pi");
    spin();
    put(fd, "\0ng\n", 4);
    assert_string_equal(answer(fd), nul);
    close(fd);
    assert_int_equal(ncalls, 0);
}

static void
test_held_answer(void **state)
{
    int a = client();
    double t0 = nl_now(), end;
    char buf[256];

    puts_fd(a, "later\n");
    run_until_calls(1);
    /* Held: nothing yet, the connection open; others are served. */
    assert_int_equal(recv(a, buf, sizeof(buf), MSG_DONTWAIT), -1);
    assert_int_equal(errno, EAGAIN);
    assert_string_equal(ask("ping\n"), PONG);
    assert_string_equal(answer(a), LATER);
    assert_true(nl_now() - t0 >= later_delay * 0.9);
    assert_null(later);
    close(a);

    /* A client that left before its answer: the reply finds it gone. */
    a = client();
    puts_fd(a, "later\n");
    run_until_calls(3);
    close(a);
    end = nl_now() + WAIT;
    while (later != NULL) {
        if (nl_now() > end)
            fail_msg("held answer not given after %.1f s", WAIT);
        ev_run(loop, EVRUN_NOWAIT);
        poll(NULL, 0, 1);
    }
    spin();
    assert_string_equal(ask("ping\n"), PONG);
}

static void
test_client_leaves_mid_command(void **state)
{
    int fd = client();

    /* Dispatched at EOF; the answer cannot be sent and is dropped. */
    puts_fd(fd, "ping");
    close(fd);
    run_until_calls(1);
    spin();
    assert_string_equal(ask("ping\n"), PONG);
}

static void
test_max_clients(void **state)
{
    int fds[NL_CONTROL_MAX_CLIENTS], extra;
    char buf[256];

    /* Fill every place with a client whose answer is pending. */
    for (int i = 0; i < NL_CONTROL_MAX_CLIENTS; i++) {
        fds[i] = client();
        puts_fd(fds[i], "hold\n");
        if (i % 16 == 15)
            run_until_calls(i + 1);
    }
    run_until_calls(NL_CONTROL_MAX_CLIENTS);
    assert_int_equal(nheld, NL_CONTROL_MAX_CLIENTS);

    /* With every place held by a command being answered, one more is
     * closed at once, unread and unanswered. */
    extra = client();
    puts_fd(extra, "ping\n");
    assert_int_equal(answer_within(extra, buf, sizeof(buf), 1.0, 1), 0);
    close(extra);
    assert_int_equal(ncalls, NL_CONTROL_MAX_CLIENTS);

    /* An answered client frees its place for the next one... */
    nl_control_reply(held[0], "{\"held\": 0}");
    assert_string_equal(answer(fds[0]), "{\"held\": 0}\n");
    close(fds[0]);
    assert_string_equal(ask("ping\n"), PONG);
    fds[0] = client();
    puts_fd(fds[0], "hold\n");
    run_until_calls(NL_CONTROL_MAX_CLIENTS + 2);
    /* ... and for one only. */
    extra = client();
    assert_int_equal(answer_within(extra, buf, sizeof(buf), 1.0, 1), 0);
    close(extra);
    assert_int_equal(ncalls, NL_CONTROL_MAX_CLIENTS + 2);

    for (int i = 0; i < NL_CONTROL_MAX_CLIENTS; i++)
        close(fds[i]);
}

/* 1 when the server closed fd (EOF or reset), as far as the loop has run:
 * spin() first.  Quick, for silent clients have NL_CONTROL_LINE_TIMEOUT
 * seconds only. */
static int
closed_by_server(int fd)
{
    char c;
    ssize_t n;

    n = recv(fd, &c, 1, MSG_DONTWAIT);
    return n == 0 || (n == -1 && errno == ECONNRESET);
}

/*
 * With every place taken by clients that have not sent a command, a
 * newcomer takes the place of the oldest of them; clients whose command is
 * being answered keep theirs, and the other silent ones too.
 */
static void
test_full_table_evicts_oldest_silent(void **state)
{
    enum { HOLD = 4, N = NL_CONTROL_MAX_CLIENTS };
    int fds[N], extra[3];

    /* HOLD places for held commands, the rest for silent clients, which
     * connect in order and are accepted in that order. */
    for (int i = 0; i < HOLD; i++) {
        fds[i] = client();
        puts_fd(fds[i], "hold\n");
    }
    run_until_calls(HOLD);
    for (int i = HOLD; i < N; i++) {
        fds[i] = client();
        if (i % 16 == 15)
            spin();
    }
    spin();
    for (int i = 0; i < N; i++)
        assert_false(closed_by_server(fds[i]));

    /* Three silent newcomers take the places of the three oldest silent
     * clients; a fourth, which asks, is answered in the place of the
     * next. */
    for (int k = 0; k < 3; k++)
        extra[k] = client();
    spin();
    assert_string_equal(ask("ping\n"), PONG);
    spin();
    for (int i = HOLD; i < HOLD + 4; i++)
        assert_true(closed_by_server(fds[i]));
    for (int i = HOLD + 4; i < N; i++)
        assert_false(closed_by_server(fds[i]));
    for (int k = 0; k < 3; k++) {
        assert_false(closed_by_server(extra[k]));
        close(extra[k]);
    }
    /* The held commands kept their places and get their answers. */
    for (int i = 0; i < HOLD; i++)
        assert_false(closed_by_server(fds[i]));
    for (int i = 0; i < HOLD; i++) {
        nl_control_reply(held[i], "{\"held\": 0}");
        assert_string_equal(answer(fds[i]), "{\"held\": 0}\n");
    }
    for (int i = 0; i < N; i++)
        close(fds[i]);
}

static void
test_socket_file(void **state)
{
    char p2[160], err[256];
    struct nl_control *c2;
    struct stat st;
    mode_t old;

    assert_int_equal(lstat(path, &st), 0);
    assert_true(S_ISSOCK(st.st_mode));
    assert_int_equal(st.st_mode & 07777, 0600);

    /* The mode is applied whatever the umask. */
    snprintf(p2, sizeof(p2), "%s/other.sock", dir);
    old = umask(0);
    c2 = nl_control_open(loop, p2, 0640, cmd_cb, &ncalls, err, sizeof(err));
    umask(old);
    assert_non_null(c2);
    assert_int_equal(lstat(p2, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0640);
    nl_control_close(c2);
    assert_int_equal(lstat(p2, &st), -1);
    assert_int_equal(errno, ENOENT);
}

static void
test_in_use_and_stale(void **state)
{
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    char p2[160], err[256] = "";
    struct nl_control *c2;
    int fd;

    c2 = nl_control_open(loop, path, 0600, cmd_cb, &ncalls, err, sizeof(err));
    assert_null(c2);
    assert_non_null(strstr(err, "in use"));
    /* The live one was not disturbed. */
    assert_string_equal(ask("ping\n"), PONG);

    /* A socket file nobody listens on is replaced. */
    snprintf(p2, sizeof(p2), "%s/stale.sock", dir);
    assert_true(strlen(p2) < sizeof(sun.sun_path));
    memcpy(sun.sun_path, p2, strlen(p2) + 1);
    fd = socket(AF_UNIX, SOCK_STREAM, 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
    close(fd);
    c2 = nl_control_open(loop, p2, 0600, cmd_cb, &ncalls, err, sizeof(err));
    assert_non_null(c2);
    nl_control_close(c2);

    /* No such folder. */
    err[0] = '\0';
    c2 = nl_control_open(loop, "/nonexistent-nl-dir/ctl.sock", 0600, cmd_cb,
                         &ncalls, err, sizeof(err));
    assert_null(c2);
    assert_non_null(strstr(err, "/nonexistent-nl-dir/"));
}

static void
test_close(void **state)
{
    char buf[256];
    struct stat st;
    int a = client(), b = client(), idle = client();

    /* a waits for its answer, b's is queued, idle has sent nothing. */
    puts_fd(a, "hold\n");
    puts_fd(b, "ping\n");
    run_until_calls(2);
    nl_control_close(ctl);
    ctl = NULL;
    assert_int_equal(lstat(path, &st), -1);
    assert_int_equal(errno, ENOENT);
    /* Every client is closed; a queued answer goes out first. */
    assert_int_equal(answer_within(b, buf, sizeof(buf), WAIT, 0), strlen(PONG));
    assert_string_equal(buf, PONG);
    assert_int_equal(answer_within(a, buf, sizeof(buf), WAIT, 0), 0);
    assert_int_equal(answer_within(idle, buf, sizeof(buf), WAIT, 0), 0);
    assert_int_equal(connect_to(path), -1);
    close(a);
    close(b);
    close(idle);
    nl_control_close(NULL);
}

static void
test_close_in_child(void **state)
{
    int a = client(), go[2], done[2], status;
    char c;
    pid_t pid;

    puts_fd(a, "hold\n");
    run_until_calls(1);
    assert_int_equal(pipe(go), 0);
    assert_int_equal(pipe(done), 0);
    pid = fork();
    assert_true(pid != -1);
    if (pid == 0) {
        int code = 0;

        alarm(10);
        close(go[0]);
        close(done[1]);
        close(a);
        nl_control_close_in_child(ctl);
        /* No socket is left here: neither the listener nor a client. */
        for (int fd = 0; fd < (int)sizeof(socket_before); fd++)
            if (!socket_before[fd] && is_socket(fd))
                code = 1;
        /* Stay alive, so that a copy of a's connection here would show. */
        (void)!write(go[1], "x", 1);
        (void)!read(done[0], &c, 1);
        _exit(code);
    }
    close(go[1]);
    close(done[0]);
    assert_int_equal(read(go[0], &c, 1), 1);
    close(go[0]);

    /* With the child alive, a's answer still ends with EOF. */
    nl_control_reply(held[0], "{\"held\": 0}");
    assert_string_equal(answer(a), "{\"held\": 0}\n");
    close(a);
    /* The parent still serves. */
    assert_string_equal(ask("ping\n"), PONG);

    close(done[1]);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

/* The one slow test: waits out NL_CONTROL_LINE_TIMEOUT once.  The deadline
 * runs from the accept for the whole line: a byte now and then does not
 * renew it. */
static void
test_timeout(void **state)
{
    int silent, partial, trickle, slow;
    double t0, t, next_byte;
    char buf[256];

    /* Answered after the deadline has passed for the others. */
    later_delay = NL_CONTROL_LINE_TIMEOUT + 0.3;
    t0 = nl_now();
    silent = client();
    partial = client();
    trickle = client();
    slow = client();
    puts_fd(partial, "pin");
    puts_fd(slow, "later\n");

    /* One byte every 0.3 s, until the server closes the connection. */
    next_byte = t0;
    t = -1;
    while (nl_now() - t0 < NL_CONTROL_LINE_TIMEOUT + 1.0) {
        ssize_t n;

        ev_run(loop, EVRUN_NOWAIT);
        n = recv(trickle, buf, sizeof(buf), MSG_DONTWAIT);
        if (n == 0 || (n == -1 && errno == ECONNRESET)) {
            t = nl_now() - t0;
            break;
        }
        assert_true(n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK));
        if (nl_now() >= next_byte) {
            (void)!send(trickle, "x", 1, MSG_NOSIGNAL);
            next_byte += 0.3;
        }
        poll(NULL, 0, 1);
    }
    assert_true(t >= NL_CONTROL_LINE_TIMEOUT - 0.1);
    assert_true(t <= NL_CONTROL_LINE_TIMEOUT + 0.5);

    assert_int_equal(answer_within(silent, buf, sizeof(buf), 0.5, 1), 0);
    t = nl_now() - t0;
    assert_true(t <= NL_CONTROL_LINE_TIMEOUT + 0.6);
    assert_int_equal(answer_within(partial, buf, sizeof(buf), 0.5, 1), 0);
    assert_int_equal(ncalls, 1);
    /* The dispatched command outlives the deadline and gets its answer. */
    assert_int_equal(answer_within(slow, buf, sizeof(buf), 1.0, 1),
                     strlen(LATER));
    assert_string_equal(buf, LATER);
    assert_true(nl_now() - t0 >= later_delay - 0.05);
    close(silent);
    close(partial);
    close(trickle);
    close(slow);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_one_line_one_answer, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_trailing_space_stripped, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_eof_without_newline, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_split_and_interleaved, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_line_length, setup, teardown),
        cmocka_unit_test_setup_teardown(test_nul_byte, setup, teardown),
        cmocka_unit_test_setup_teardown(test_held_answer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_client_leaves_mid_command, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_max_clients, setup, teardown),
        cmocka_unit_test_setup_teardown(test_full_table_evicts_oldest_silent,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_socket_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_in_use_and_stale, setup, teardown),
        cmocka_unit_test_setup_teardown(test_close, setup, teardown),
        cmocka_unit_test_setup_teardown(test_close_in_child, setup, teardown),
        cmocka_unit_test_setup_teardown(test_timeout, setup, teardown),
    };

    signal(SIGPIPE, SIG_IGN);
    return cmocka_run_group_tests(tests, NULL, NULL);
}

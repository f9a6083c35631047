/*
 * netlabctl.c - the control socket's client: sends one command line, reads
 * the daemon's one JSON answer and prints it for a person, or as it came
 * with --json.
 *
 * It knows the commands only well enough to print their answers; any other
 * word goes to the daemon unchanged, which decides whether it exists.  So a
 * newer daemon's commands work through an older netlabctl (printed raw).
 *
 * Exit status: 0 when the daemon did it; 1 when it answered with an error
 * (an "error" that is not null, or "ok": false); 2 when it could not be
 * asked: a bad command line, no socket, no answer in time, or an answer
 * that is not a JSON object.  Scripts can thus tell "refused" from
 * "unreachable".
 *
 * This file holds the command line, the verdict and the exit codes; the
 * socket is talk.c's, reading the JSON (with json-c) answer.c's, and the
 * tables print.c's.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "answer.h"
#include "paths.h"
#include "print.h"
#include "talk.h"

#define EXIT_REFUSED 1
#define EXIT_TROUBLE 2

/* Connections tried when the daemon closes one before the command is sent
 * (ask()). */
#define SEND_TRIES 5

/* A reload answers only once the new configuration runs or was refused,
 * which includes checking every handler (up to 30 s, NL_CHECK_TIMEOUT),
 * perhaps behind a reload already running (as long again), then up to
 * 2 s for the old processes to stop accepting: 75 s covers that, and stays
 * below systemd's default 90 s for ExecReload=.  It does not cover a
 * reload that waits for older generations to drain (up to
 * shutdown_timeout): netlabctl(8) says so. */
#define TIMEOUT_MS        10000
#define RELOAD_TIMEOUT_MS 75000

static const char *progname = "netlabctl";

static void
usage(FILE *out)
{
    fprintf(out,
            "usage: netlabctl [-s SOCKET] [--json] COMMAND\n"
            "Ask a running netlabd through its control socket.\n"
            "\n"
            "Commands:\n"
            "  status      the daemon (pid, version, uptime, config, "
            "generation, last\n"
            "              reload) and a table of its listeners with their "
            "counters;\n"
            "              serving processes still draining after a reload "
            "are listed\n"
            "  reload      re-read the configuration file; waits for the "
            "outcome and\n"
            "              fails with the daemon's FILE:LINE: message if "
            "the new\n"
            "              configuration is refused (the old one keeps "
            "running)\n"
            "  stop        stop gracefully: close the listening sockets, let "
            "open\n"
            "              sessions finish for up to shutdown_timeout, "
            "then exit\n"
            "  log-reopen  reopen the log file (after logrotate moved it)\n"
            "  metrics     print the counters in the Prometheus text format\n"
            "  help        list the commands the daemon knows\n"
            "\n"
            "Options:\n"
            "  -s, --socket SOCKET  the control socket (default: "
            "$NETLABD_CONTROL if set,\n"
            "                       else %s)\n"
            "      --json           print the daemon's JSON answer as it "
            "is\n"
            "  -V, --version        print the version and exit\n"
            "  -h, --help           print this help and exit\n"
            "\n"
            "Exit status: 0 done; 1 the daemon answered with an error; 2 "
            "the daemon\n"
            "could not be asked (bad usage, no socket, no answer in time, "
            "an answer\n"
            "that is not JSON).\n",
            NL_DEFAULT_CONTROL);
}

static void
usage_error(const char *msg)
{
    if (msg != NULL)
        fprintf(stderr, "%s: %s\n", progname, msg);
    fprintf(stderr, "usage: netlabctl [-s SOCKET] [--json] "
                    "status | metrics | reload | stop | log-reopen | help\n"
                    "Try 'netlabctl --help' for more.\n");
    exit(EXIT_TROUBLE);
}

/* Prints the daemon's answer; returns the exit status it calls for. */
static int
report(const char *cmd, const struct json_object *doc, const char *raw,
       int json)
{
    const struct json_object *err = nl_answer_get(doc, "error");
    char prefix[NL_PRINT_CELL];
    const char *why;
    int ok = 1;

    /* An absent "ok" means no verdict. */
    (void)nl_answer_bool(nl_answer_get(doc, "ok"), &ok);
    if (json)
        printf("%s\n", raw);
    if (err == NULL && ok) {
        if (!json)
            nl_print_answer(cmd, doc, raw);
        return 0;
    }
    /* A refused reload may have several errors: each on its own line,
     * each with the prefix, so that every line stands alone in a log. */
    snprintf(prefix, sizeof(prefix), "%s: %s: ", progname, cmd);
    why = nl_answer_string(err);
    nl_print_lines(stderr, prefix, prefix,
                   why != NULL ? why : "failed, without saying why");
    return EXIT_REFUSED;
}

/* Asks the daemon at path; exits with status 2 if that fails. */
static char *
ask(const char *path, const char *cmd, size_t *len)
{
    long long deadline =
        nl_talk_now() +
        (strcmp(cmd, "reload") == 0 ? RELOAD_TIMEOUT_MS : TIMEOUT_MS);
    size_t clen = strlen(cmd);
    char *line = malloc(clen + 2), *answer;
    int fd, rc;

    if (line == NULL) {
        perror(progname);
        exit(EXIT_TROUBLE);
    }
    memcpy(line, cmd, clen);
    memcpy(line + clen, "\n", 2);
    /* Under a flood of connections the daemon makes room by closing the
     * oldest client that has sent nothing yet: if that was us, between our
     * connect and our send, it never saw the command, so ask again, a few
     * times: a daemon whose every place is busy answering closes each
     * newcomer on purpose, and netlabctl then says so within SEND_TRIES. */
    for (int tries = 1;; tries++) {
        if ((fd = nl_talk_connect(path, deadline)) == -1) {
            fprintf(stderr, "%s: cannot connect to %s: %s\n", progname, path,
                    strerror(errno));
            exit(EXIT_TROUBLE);
        }
        rc = nl_talk_send(fd, line, clen + 1, deadline);
        if (rc == 0 || (errno != EPIPE && errno != ECONNRESET) ||
            tries == SEND_TRIES || nl_talk_now() >= deadline)
            break;
        close(fd);
        (void)poll(NULL, 0, 10); /* only a pause */
    }
    free(line);
    if (rc == -1) {
        fprintf(stderr, "%s: cannot send to %s: %s\n", progname, path,
                strerror(errno));
        exit(EXIT_TROUBLE);
    }
    if ((answer = nl_talk_read(fd, deadline, len)) == NULL) {
        fprintf(stderr, "%s: no answer from %s: %s\n", progname, path,
                strerror(errno));
        exit(EXIT_TROUBLE);
    }
    close(fd);
    return answer;
}

/* Reads the command line; exits for --help, --version and bad usage.
 * Returns the command; the socket's path goes in *path. */
static const char *
parse_args(int argc, char **argv, const char **path, int *json)
{
    static const struct option longopts[] = {
        {"socket", required_argument, NULL, 's'},
        {"json", no_argument, NULL, 'j'},
        {"version", no_argument, NULL, 'V'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    const char *cmd;
    int ch;

    *path = NULL;
    while ((ch = getopt_long(argc, argv, "s:Vh", longopts, NULL)) != -1) {
        switch (ch) {
        case 's':
            *path = optarg;
            break;
        case 'j':
            *json = 1;
            break;
        case 'V':
            printf("netlabctl %s\n", PACKAGE_VERSION);
            exit(0);
        case 'h':
            usage(stdout);
            exit(0);
        default:
            usage_error(NULL);
        }
    }
    if (optind == argc)
        usage_error("no command given");
    if (argc - optind > 1)
        usage_error("one command at a time");
    cmd = argv[optind];
    if (cmd[0] == '\0' || strpbrk(cmd, "\r\n") != NULL)
        usage_error("a command is one word on one line");
    if (*path == NULL)
        *path = getenv("NETLABD_CONTROL");
    if (*path == NULL || (*path)[0] == '\0')
        *path = NL_DEFAULT_CONTROL;
    return cmd;
}

/* Parses the answer (len bytes) the daemon at path gave; exits with
 * status 2 if it is empty or not a JSON object.  The answer loses its
 * newline, and is what --json prints. */
static struct json_object *
parse_doc(const char *path, char *answer, size_t len)
{
    struct json_object *doc;
    char err[256];

    /* The newline ends the answer on the wire; --json prints its own. */
    while (len > 0 && (answer[len - 1] == '\n' || answer[len - 1] == '\r'))
        answer[--len] = '\0';
    if (len == 0) {
        fprintf(stderr,
                "%s: no answer from %s: the daemon closed the "
                "connection without answering\n",
                progname, path);
        free(answer);
        exit(EXIT_TROUBLE);
    }
    doc = nl_answer_parse(answer, len, err, sizeof(err));
    if (doc == NULL || !nl_answer_is_object(doc)) {
        fprintf(stderr, "%s: bad answer from %s: %s\n", progname, path,
                doc == NULL ? err : "not a JSON object");
        json_object_put(doc);
        free(answer);
        exit(EXIT_TROUBLE);
    }
    return doc;
}

int
main(int argc, char **argv)
{
    const char *path, *cmd;
    struct json_object *doc;
    char *answer;
    size_t len;
    int json = 0, rc;

    cmd = parse_args(argc, argv, &path, &json);
    answer = ask(path, cmd, &len);
    /* `metrics` answers in the Prometheus text format, printed as it
     * came; a JSON object in its place is an error, reported as usual. */
    if (strcmp(cmd, "metrics") == 0 && len > 0 && answer[0] != '{') {
        fwrite(answer, 1, len, stdout);
        free(answer);
        rc = 0;
    } else {
        doc = parse_doc(path, answer, len);
        rc = report(cmd, doc, answer, json);
        json_object_put(doc);
        free(answer);
    }
    if (fflush(stdout) == EOF || ferror(stdout)) {
        fprintf(stderr, "%s: writing the output: %s\n", progname,
                strerror(errno));
        return EXIT_TROUBLE;
    }
    return rc;
}

/*
 * fuzz_conf.c - libFuzzer target for the config loader (daemon/conf.c).
 *
 * Each input is written to netlabd.conf in a private folder and loaded
 * with nl_conf_load(), as `netlabd -t` and a reload do.  The folder also
 * holds inc.conf, a regular file an input may @include.  A load must end
 * either with a configuration or with error lines, each starting with the
 * file's name; a configuration is checked (every listener's address
 * formats, the same file loaded twice gives equal listeners) and freed.
 *
 * The folder holds, besides the input, what an @include may name: a
 * regular file (inc.conf), a folder (sub) and a FIFO nobody writes to
 * (fifo), so that the include check meets each kind.
 */
#include "config.h"

#include "fuzz.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf.h"
#include "errs.h"

static char dir[64];
static char conf_path[128];

static void
write_file(const char *path, const void *buf, size_t n)
{
    FILE *fp = fopen(path, "w");

    if (fp == NULL || fwrite(buf, 1, n, fp) != n || fclose(fp) != 0) {
        perror(path);
        abort();
    }
}

static void
cleanup(void)
{
    char path[192];

    unlink(conf_path);
    snprintf(path, sizeof(path), "%s/inc.conf", dir);
    unlink(path);
    snprintf(path, sizeof(path), "%s/fifo", dir);
    unlink(path);
    snprintf(path, sizeof(path), "%s/sub", dir);
    rmdir(path);
    rmdir(dir);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    static const char inc[] =
        "log_level = \"info\";\n"
        "listeners = ({ name = \"inc\"; transport = \"tcp\"; port = 7000;"
        " handler = \"echo\"; });\n";
    char path[192];

    (void)argc;
    (void)argv;
    snprintf(dir, sizeof(dir), "%s/netlabd-fuzz-conf.XXXXXX", nl_fuzz_tmp_dir());
    if (mkdtemp(dir) == NULL) {
        perror("mkdtemp");
        abort();
    }
    snprintf(conf_path, sizeof(conf_path), "%s/netlabd.conf", dir);
    snprintf(path, sizeof(path), "%s/inc.conf", dir);
    write_file(path, inc, sizeof(inc) - 1);
    snprintf(path, sizeof(path), "%s/sub", dir);
    if (mkdir(path, 0700) == -1) {
        perror(path);
        abort();
    }
    snprintf(path, sizeof(path), "%s/fifo", dir);
    if (mkfifo(path, 0600) == -1) {
        perror(path);
        abort();
    }
    atexit(cleanup);
    return 0;
}

static void
check_errors(const struct nl_errs *errs)
{
    size_t dlen = strlen(conf_path);

    if (errs->n == 0)
        abort(); /* NULL without a reason */
    for (size_t i = 0; i < errs->n; i++)
        if (strncmp(errs->msg[i], dir, strlen(dir)) != 0 &&
            strncmp(errs->msg[i], conf_path, dlen) != 0)
            abort(); /* every line names the file */
}

static void
check_conf(const struct nl_conf *a, const struct nl_conf *b)
{
    char buf[512];

    if (b == NULL || a->nlisteners != b->nlisteners)
        abort(); /* the same file loaded twice */
    for (size_t i = 0; i < a->nlisteners; i++) {
        const struct nl_listener_conf *lc = &a->listeners[i];

        nl_listener_address(lc, buf, sizeof(buf));
        if (!nl_listener_equal(lc, &b->listeners[i]) ||
            !nl_listener_same_address(lc, &b->listeners[i]))
            abort();
        for (size_t j = 0; j < i; j++)
            (void)nl_listener_equal(lc, &a->listeners[j]);
        (void)nl_transport_name(lc->transport);
        (void)nl_model_name(lc->model);
    }
    (void)nl_conf_line(a, "pidfile");
    (void)nl_conf_line(a, "listeners");
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct nl_errs errs = {0};
    struct nl_conf *a, *b;

    if (size > 16384)
        return 0;
    write_file(conf_path, data, size);
    a = nl_conf_load(conf_path, &errs);
    if (a == NULL) {
        check_errors(&errs);
        nl_errs_clear(&errs);
        return 0;
    }
    if (errs.n != 0)
        abort(); /* a configuration with errors */
    b = nl_conf_load(conf_path, &errs);
    check_conf(a, b);
    nl_conf_free(a);
    nl_conf_free(b);
    nl_errs_clear(&errs);
    return 0;
}

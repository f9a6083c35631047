/*
 * print.c - netlabctl's printing of the daemon's answers for a person: the
 * status header and its tables of listeners and draining processes, with
 * counts and sizes scaled and columns as wide as their text on screen;
 * the command list; one line per error.  Everything the daemon sent is
 * sanitized, so that a name or a message cannot move the terminal's
 * cursor.  Values of an unexpected type print as they are, or as "-".
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "answer.h"
#include "print.h"

#define CELL NL_PRINT_CELL

/* Copies s into out, replacing control characters so that a listener name
 * or an error message cannot move the terminal's cursor. */
static void
sanitize(const char *s, char *out, size_t size)
{
    size_t i;

    for (i = 0; s[i] != '\0' && i + 1 < size; i++) {
        unsigned char c = (unsigned char)s[i];

        out[i] = c < 0x20 || c == 0x7f ? '?' : (char)c;
    }
    out[i] = '\0';
}

/*
 * n exactly below `exact`, else scaled by `base` with one decimal and the
 * first unit that keeps it under `base` once rounded (so never "1024.0").
 */
static void
fmt_scaled(unsigned long long n, char *out, size_t size,
           unsigned long long exact, unsigned base, const char *plain,
           const char *const *units, size_t nunits)
{
    double v = (double)n / base, top = base - 0.05;
    size_t u = 0;

    if (n < exact) {
        snprintf(out, size, "%llu%s", n, plain);
        return;
    }
    while (v >= top && u + 1 < nunits) {
        v /= base;
        u++;
    }
    snprintf(out, size, "%.1f%s", v, units[u]);
}

static void
fmt_bytes(unsigned long long n, char *out, size_t size)
{
    static const char *const units[] = {" KiB", " MiB", " GiB",
                                        " TiB", " PiB", " EiB"};

    fmt_scaled(n, out, size, 1024, 1024, " B", units,
               sizeof(units) / sizeof(*units));
}

/* Counts are exact below 10000: small counts are the ones people compare. */
static void
fmt_count(unsigned long long n, char *out, size_t size)
{
    static const char *const units[] = {"k", "M", "G", "T", "P", "E"};

    fmt_scaled(n, out, size, 10000, 1000, "", units,
               sizeof(units) / sizeof(*units));
}

static void
fmt_uptime(unsigned long long s, char *out, size_t size)
{
    unsigned long long d = s / 86400, h = s / 3600 % 24, m = s / 60 % 60;

    if (d > 0)
        snprintf(out, size, "%llud %lluh", d, h);
    else if (h > 0)
        snprintf(out, size, "%lluh %llum", h, m);
    else if (m > 0)
        snprintf(out, size, "%llum %llus", m, s % 60);
    else
        snprintf(out, size, "%llus", s);
}

/* Any scalar as text; "-" for a missing value or a container. */
static void
fmt_plain(const struct json_object *v, char *out, size_t size)
{
    uint64_t u;
    int64_t i;
    double d;
    int b;

    if (nl_answer_string(v) != NULL)
        sanitize(nl_answer_string(v), out, size);
    else if (nl_answer_uint(v, &u) == 0)
        snprintf(out, size, "%llu", (unsigned long long)u);
    else if (nl_answer_negative(v, &i) == 0)
        snprintf(out, size, "%lld", (long long)i);
    else if (nl_answer_double(v, &d) == 0)
        snprintf(out, size, "%g", d);
    else if (nl_answer_bool(v, &b) == 0)
        snprintf(out, size, "%s", b ? "true" : "false");
    else
        snprintf(out, size, "-");
}

/* A counter through fmt; anything else (a newer daemon's text, say) as it
 * is. */
static void
fmt_uint_value(const struct json_object *v, char *out, size_t size,
               void (*fmt)(unsigned long long, char *, size_t))
{
    uint64_t u;

    if (nl_answer_uint(v, &u) == 0)
        fmt(u, out, size);
    else
        fmt_plain(v, out, size);
}

static void
fmt_count_value(const struct json_object *v, char *out, size_t size)
{
    fmt_uint_value(v, out, size, fmt_count);
}

static void
fmt_bytes_value(const struct json_object *v, char *out, size_t size)
{
    fmt_uint_value(v, out, size, fmt_bytes);
}

/* A listener's workers: "running/max" for a pool that grows (prefork,
 * threads), as `workers` otherwise (libev, or an older daemon). */
static void
fmt_workers_row(const struct json_object *row, char *out, size_t size)
{
    const char *model = nl_answer_string(nl_answer_get(row, "model"));
    uint64_t running, max;

    if (model != NULL && strcmp(model, "libev") != 0 &&
        nl_answer_uint(nl_answer_get(row, "workers_running"), &running) == 0 &&
        nl_answer_uint(nl_answer_get(row, "max_workers"), &max) == 0)
        snprintf(out, size, "%llu/%llu", (unsigned long long)running,
                 (unsigned long long)max);
    else
        fmt_plain(nl_answer_get(row, "workers"), out, size);
}

struct column {
    const char *title;
    const char *key; /* NULL: fmt is given the whole row */
    int right; /* numbers align right */
    void (*fmt)(const struct json_object *, char *, size_t);
};

/* Columns are as wide as what they show on screen: UTF-8 continuation
 * bytes take no room of their own. */
static size_t
display_width(const char *s)
{
    size_t w = 0;

    for (; *s != '\0'; s++)
        if (((unsigned char)*s & 0xc0) != 0x80)
            w++;
    return w;
}

static void
print_cell(const char *s, size_t width, int right, int last)
{
    size_t pad = width - display_width(s);

    if (right)
        printf("%*s%s", (int)pad, "", s);
    else
        printf("%s%*s", s, last ? 0 : (int)pad, "");
    printf("%s", last ? "\n" : "  ");
}

static const struct json_object *
cell_value(const struct json_object *row, const char *key)
{
    return key != NULL ? nl_answer_get(row, key) : row;
}

/* Prints the objects of array rows as a table; cells are formatted twice
 * (for widths, then to print) rather than stored. */
static void
print_table(const struct column *cols, size_t ncols,
            const struct json_object *rows)
{
    size_t width[16] = {0}, nrows = nl_answer_len(rows);
    char cell[CELL];

    for (size_t c = 0; c < ncols; c++) {
        width[c] = strlen(cols[c].title);
        for (size_t r = 0; r < nrows; r++) {
            const struct json_object *row = nl_answer_index(rows, r);
            size_t w;

            cols[c].fmt(cell_value(row, cols[c].key), cell, sizeof(cell));
            if ((w = display_width(cell)) > width[c])
                width[c] = w;
        }
    }
    for (size_t c = 0; c < ncols; c++)
        print_cell(cols[c].title, width[c], cols[c].right, c + 1 == ncols);
    for (size_t r = 0; r < nrows; r++) {
        const struct json_object *row = nl_answer_index(rows, r);

        for (size_t c = 0; c < ncols; c++) {
            cols[c].fmt(cell_value(row, cols[c].key), cell, sizeof(cell));
            print_cell(cell, width[c], cols[c].right, c + 1 == ncols);
        }
    }
}

static const struct column listener_cols[] = {
    {"NAME", "name", 0, fmt_plain},
    {"TRANSPORT", "transport", 0, fmt_plain},
    {"ADDRESS", "address", 0, fmt_plain},
    {"MODEL", "model", 0, fmt_plain},
    {"WORKERS", NULL, 1, fmt_workers_row},
    {"HANDLER", "handler", 0, fmt_plain},
    {"ACTIVE", "connections_active", 1, fmt_count_value},
    {"TOTAL", "connections_total", 1, fmt_count_value},
    {"REFUSED", "connections_refused", 1, fmt_count_value},
    {"DENIED", "connections_denied", 1, fmt_count_value},
    {"LIMITED", "connections_limited", 1, fmt_count_value},
    {"IN", "bytes_in", 1, fmt_bytes_value},
    {"OUT", "bytes_out", 1, fmt_bytes_value},
    {"ERRORS", "errors", 1, fmt_count_value},
};

static const struct column draining_cols[] = {
    {"LISTENER", "listener", 0, fmt_plain},
    {"PID", "pid", 1, fmt_plain},
    {"GENERATION", "generation", 1, fmt_plain},
    {"ACTIVE", "connections_active", 1, fmt_count_value},
};

void
nl_print_lines(FILE *out, const char *first, const char *more,
               const char *text)
{
    char buf[CELL], piece[CELL];

    for (int i = 0;; i++) {
        size_t len = strcspn(text, "\n");

        snprintf(piece, sizeof(piece), "%.*s", (int)len, text);
        sanitize(piece, buf, sizeof(buf));
        fprintf(out, "%s%s\n", i == 0 ? first : more, buf);
        if (text[len] == '\0' || text[len + 1] == '\0')
            break;
        text += len + 1;
    }
}

static void
print_last_reload(const struct json_object *lr)
{
    char when[CELL], error[CELL], first[CELL + 64];
    const char *text;
    int ok;

    if (!nl_answer_is_object(lr)) {
        printf("%-13s%s\n", "last reload:", "none");
        return;
    }
    fmt_plain(nl_answer_get(lr, "time"), when, sizeof(when));
    if (nl_answer_bool(nl_answer_get(lr, "ok"), &ok) == 0 && ok) {
        printf("%-13sok at %s\n", "last reload:", when);
        return;
    }
    snprintf(first, sizeof(first), "%-13sfailed at %s: ", "last reload:", when);
    if ((text = nl_answer_string(nl_answer_get(lr, "error"))) != NULL) {
        /* One error a line, under the first. */
        nl_print_lines(stdout, first, "             ", text);
        return;
    }
    fmt_plain(nl_answer_get(lr, "error"), error, sizeof(error));
    printf("%s%s\n", first, error);
}

static void
print_status(const struct json_object *doc)
{
    const struct json_object *ls = nl_answer_get(doc, "listeners");
    const struct json_object *dr = nl_answer_get(doc, "draining");
    char buf[CELL];

    fmt_plain(nl_answer_get(doc, "pid"), buf, sizeof(buf));
    printf("%-13s%s\n", "pid:", buf);
    fmt_plain(nl_answer_get(doc, "version"), buf, sizeof(buf));
    printf("%-13s%s\n", "version:", buf);
    fmt_uint_value(nl_answer_get(doc, "uptime_s"), buf, sizeof(buf),
                   fmt_uptime);
    printf("%-13s%s\n", "uptime:", buf);
    fmt_plain(nl_answer_get(doc, "config"), buf, sizeof(buf));
    printf("%-13s%s\n", "config:", buf);
    fmt_plain(nl_answer_get(doc, "generation"), buf, sizeof(buf));
    printf("%-13s%s\n", "generation:", buf);
    print_last_reload(nl_answer_get(doc, "last_reload"));

    printf("\n");
    print_table(listener_cols, sizeof(listener_cols) / sizeof(*listener_cols),
                ls);
    for (size_t i = 0, notes = 0; i < nl_answer_len(ls); i++) {
        const struct json_object *l = nl_answer_index(ls, i);
        int serving;

        if (nl_answer_bool(nl_answer_get(l, "serving"), &serving) == 0 && !serving) {
            fmt_plain(nl_answer_get(l, "name"), buf, sizeof(buf));
            printf("%slistener %s is not serving (starting or restarting)\n",
                   notes++ ? "" : "\n", buf);
        }
    }
    if (nl_answer_len(dr) > 0) {
        printf("\ndraining:\n");
        print_table(draining_cols,
                    sizeof(draining_cols) / sizeof(*draining_cols), dr);
    }
}

/* The daemon lists its commands as an array of names, or as an object
 * from name to a line of description; either prints one per line. */
static void
print_help_answer(const struct json_object *doc, const char *raw)
{
    const struct json_object *cmds = nl_answer_get(doc, "commands");
    char name[CELL], what[CELL];
    struct json_object *v;
    size_t width = 0;
    const char *key;

    if (nl_answer_is_array(cmds)) {
        for (size_t i = 0; i < nl_answer_len(cmds); i++) {
            fmt_plain(nl_answer_index(cmds, i), name, sizeof(name));
            printf("%s\n", name);
        }
        return;
    }
    if (!nl_answer_is_object(cmds)) {
        printf("%s\n", raw);
        return;
    }
    for (size_t i = 0; nl_answer_member(cmds, i, &key, &v) == 0; i++)
        if (strlen(key) > width)
            width = strlen(key);
    for (size_t i = 0; nl_answer_member(cmds, i, &key, &v) == 0; i++) {
        sanitize(key, name, sizeof(name));
        fmt_plain(v, what, sizeof(what));
        printf("%-*s  %s\n", (int)width, name, what);
    }
}

void
nl_print_answer(const char *cmd, const struct json_object *doc,
                const char *raw)
{
    uint64_t gen;

    if (strcmp(cmd, "status") == 0) {
        print_status(doc);
    } else if (strcmp(cmd, "reload") == 0) {
        if (nl_answer_uint(nl_answer_get(doc, "generation"), &gen) == 0)
            printf("reloaded (generation %llu)\n", (unsigned long long)gen);
        else
            printf("reloaded\n");
    } else if (strcmp(cmd, "stop") == 0) {
        printf("stopping\n");
    } else if (strcmp(cmd, "log-reopen") == 0) {
        printf("log reopened\n");
    } else if (strcmp(cmd, "help") == 0) {
        print_help_answer(doc, raw);
    } else {
        /* A command this netlabctl does not know: show what came. */
        printf("%s\n", raw);
    }
}

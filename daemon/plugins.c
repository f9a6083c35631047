/*
 * plugins.c - the handler loader.  It owns everything between a path to a
 * .so and a checked, initialised handler table: dlopen(), the checks on the
 * exported `netlabd_handler` table, the host functions a handler's init()
 * sees (struct netlabd_init, its options and its error), and --plugin-info.
 * The check that runs every listener's init() in a throw-away child is
 * plugin_check.c's; the host functions of a *session* are session.c's,
 * which owns sessions.
 *
 * Every refusal is one line that names the file and says what was found
 * and what was expected; every failed load dlclose()s what it opened.
 */
#include "config.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/mman.h>
#include <unistd.h>

#include <netlabd/plugin.h>

#include "conf.h"
#include "plugins.h"
#include "util.h"

#define MSG_MAX NL_PLUGIN_MSG_MAX

struct nl_plugin {
    void *pl_dl;
    const struct netlabd_handler *pl_handler;
};

/* What a handler's init() is handed.  Lives on nl_plugin_init()'s stack. */
struct netlabd_init {
    struct netlabd_handle h; /* first: the plugin's wrappers read it */
    const struct netlabd_handler *handler;
    const struct nl_listener_conf *lc;
    unsigned char *asked; /* one flag per lc->options[] */
    void *data;
    char error[MSG_MAX];
    int error_set;
};

static const char *
init_option(struct netlabd_init *ini, const char *key)
{
    for (size_t i = 0; i < ini->lc->noptions; i++) {
        if (strcmp(ini->lc->options[i].key, key) == 0) {
            ini->asked[i] = 1;
            return ini->lc->options[i].value;
        }
    }
    return NULL;
}

static void
init_set_listener_data(struct netlabd_init *ini, void *data)
{
    ini->data = data;
}

static void
init_error(struct netlabd_init *ini, const char *fmt, va_list ap)
{
    /* The first complaint is kept: later ones tend to be consequences. */
    if (ini->error_set)
        return;
    vsnprintf(ini->error, sizeof(ini->error), fmt, ap);
    ini->error_set = 1;
}

static const char *
init_listener_name(struct netlabd_init *ini)
{
    return ini->lc->name;
}

/* The session functions stay NULL: no session exists during init(). */
static const struct netlabd_host init_host = {
    .size = sizeof(struct netlabd_host),
    .option = init_option,
    .set_listener_data = init_set_listener_data,
    .init_error = init_error,
    .listener_name = init_listener_name,
};

/* dlerror() usually starts with the file name, which our message already
 * carries; drop it so that the name is not said twice. */
static const char *
strip_path(const char *msg, const char *path)
{
    size_t n = strlen(path);

    if (msg == NULL)
        return "unknown error";
    if (strncmp(msg, path, n) == 0 && strncmp(msg + n, ": ", 2) == 0)
        return msg + n + 2;
    return msg;
}

static int
check_table(const char *path, const struct netlabd_handler *h, char *err,
            size_t errlen)
{
    /* A table may be larger (a newer header with the same ABI version
     * using a reserved slot) but must hold every field read here. */
    size_t need = offsetof(struct netlabd_handler, reserved);

    if (h->magic != NETLABD_MAGIC) {
        snprintf(err, errlen,
                 "%s: %s has magic 0x%08x, expected 0x%08x "
                 "(not a netlabd handler table?)",
                 path, NETLABD_HANDLER_SYMBOL, (unsigned)h->magic,
                 (unsigned)NETLABD_MAGIC);
        return -1;
    }
    if (h->abi_version != NETLABD_ABI_VERSION) {
        snprintf(err, errlen, "%s: ABI version %u, expected %u", path,
                 (unsigned)h->abi_version, (unsigned)NETLABD_ABI_VERSION);
        return -1;
    }
    if (h->size < need) {
        snprintf(err, errlen,
                 "%s: handler table of %u bytes, expected at least %zu", path,
                 (unsigned)h->size, need);
        return -1;
    }
    if (h->name == NULL) {
        snprintf(err, errlen, "%s: handler table has no name", path);
        return -1;
    }
    if (h->framing != NETLABD_FRAMING_RAW &&
        h->framing != NETLABD_FRAMING_LINE) {
        snprintf(err, errlen, "%s: framing %u, expected %d (raw) or %d (line)",
                 path, (unsigned)h->framing, NETLABD_FRAMING_RAW,
                 NETLABD_FRAMING_LINE);
        return -1;
    }
    return 0;
}

/* dlopen()s open_path; messages name path, the file the user named. */
static struct nl_plugin *
load(const char *open_path, const char *path, char *err, size_t errlen)
{
    struct nl_plugin *p;
    const struct netlabd_handler *h;
    char *local = NULL;
    void *dl;

    /* Without a slash dlopen() would search the system's library path,
     * which is never what a handler file given to us means. */
    if (strchr(open_path, '/') == NULL)
        local = nl_xasprintf("./%s", open_path);
    dl = dlopen(local != NULL ? local : open_path, RTLD_NOW | RTLD_LOCAL);
    if (dl == NULL) {
        snprintf(err, errlen, "%s: cannot load: %s", path,
                 strip_path(dlerror(), local != NULL ? local : open_path));
        free(local);
        return NULL;
    }
    free(local);
    (void)dlerror();
    h = dlsym(dl, NETLABD_HANDLER_SYMBOL);
    if (h == NULL) {
        snprintf(err, errlen, "%s: no symbol %s (not a netlabd handler?)", path,
                 NETLABD_HANDLER_SYMBOL);
        goto fail;
    }
    if (check_table(path, h, err, errlen) == -1)
        goto fail;
    p = nl_xcalloc(1, sizeof(*p));
    p->pl_dl = dl;
    p->pl_handler = h;
    return p;

fail:
    dlclose(dl);
    return NULL;
}

struct nl_plugin *
nl_plugin_load(const char *path, char *err, size_t errlen)
{
    return load(path, path, err, errlen);
}

struct nl_plugin *
nl_plugin_load_copy(const char *path, int in, char *err, size_t errlen)
{
    struct nl_plugin *p;
    char buf[65536], fdpath[64];
    ssize_t n;
    int mem;

    if (in == -1 && (in = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
        snprintf(err, errlen, "%s: cannot load: %s", path, strerror(errno));
        return NULL;
    }
    if ((mem = memfd_create("netlabd-handler", MFD_CLOEXEC)) == -1) {
        snprintf(err, errlen, "%s: memfd_create: %s", path, strerror(errno));
        close(in);
        return NULL;
    }
    while ((n = read(in, buf, sizeof(buf))) > 0)
        if (write(mem, buf, (size_t)n) != n) {
            n = -1;
            break;
        }
    close(in);
    if (n == -1) {
        snprintf(err, errlen, "%s: copying for loading: %s", path,
                 strerror(errno));
        close(mem);
        return NULL;
    }
    snprintf(fdpath, sizeof(fdpath), "/proc/self/fd/%d", mem);
    p = load(fdpath, path, err, errlen);
    /* The mapping keeps the copy alive. */
    close(mem);
    return p;
}

void
nl_plugin_unload(struct nl_plugin *p)
{
    if (p == NULL)
        return;
    dlclose(p->pl_dl);
    free(p);
}

const struct netlabd_handler *
nl_plugin_handler(const struct nl_plugin *p)
{
    return p->pl_handler;
}

int
nl_plugin_init(struct nl_plugin *p, const struct nl_listener_conf *lc,
               void **state, char *err, size_t errlen, int *line)
{
    const struct netlabd_handler *h = p->pl_handler;
    struct netlabd_init ini;
    int rc = -1;

    memset(&ini, 0, sizeof(ini));
    ini.h.host = &init_host;
    ini.handler = h;
    ini.lc = lc;
    ini.asked = nl_xcalloc(lc->noptions, 1);
    *state = NULL;
    if (h->init != NULL && h->init(&ini) != 0) {
        snprintf(err, errlen, "handler %s: %s", h->name,
                 ini.error_set ? ini.error
                               : "init() refused without saying why");
        *line = lc->options_line;
        goto out;
    }
    /* Checked after init() so that a handler may look up options in any
     * order, or not at all depending on other options. */
    for (size_t i = 0; i < lc->noptions; i++) {
        if (!ini.asked[i]) {
            snprintf(err, errlen, "unknown option `%s'", lc->options[i].key);
            *line = lc->options[i].line;
            if (h->fini != NULL)
                h->fini(ini.data);
            goto out;
        }
    }
    *state = ini.data;
    rc = 0;
out:
    free(ini.asked);
    return rc;
}

void
nl_plugin_fini(struct nl_plugin *p, void *state)
{
    if (p->pl_handler->fini != NULL)
        p->pl_handler->fini(state);
}

int
nl_plugin_info(const char *path)
{
    char err[MSG_MAX];
    struct nl_plugin *p;
    const struct netlabd_handler *h;

    if ((p = nl_plugin_load(path, err, sizeof(err))) == NULL) {
        fprintf(stderr, "%s\n", err);
        return -1;
    }
    h = p->pl_handler;
    printf("file: %s\n", path);
    printf("name: %s\n", h->name);
    printf("version: %s\n", h->version != NULL ? h->version : "(none)");
    printf("abi: %u\n", (unsigned)h->abi_version);
    printf("framing: %s\n",
           h->framing == NETLABD_FRAMING_LINE ? "line" : "raw");
    fflush(stdout);
    nl_plugin_unload(p);
    return 0;
}

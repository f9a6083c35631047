/*
 * model.c - the registry of concurrency models.
 */
#include "config.h"

#include "model.h"

const struct nl_model_ops *
nl_model_get(enum nl_model_kind m)
{
    switch (m) {
    case NL_MODEL_PREFORK:
        return &nl_model_prefork;
    case NL_MODEL_THREADS:
        return &nl_model_threads;
    case NL_MODEL_LIBEV:
        return &nl_model_libev;
    }
    return NULL;
}

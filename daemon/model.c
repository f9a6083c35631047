/*
 * model.c - the registry of concurrency models: a model kind picks its
 * table here, and nowhere else.
 */
#include "config.h"

#include "model.h"

static const struct nl_model_ops *const models[] = {
    [NL_MODEL_PREFORK] = &nl_model_prefork,
    [NL_MODEL_THREADS] = &nl_model_threads,
    [NL_MODEL_LIBEV] = &nl_model_libev,
};

const struct nl_model_ops *
nl_model_get(enum nl_model_kind m)
{
    if ((size_t)m >= sizeof(models) / sizeof(*models))
        return NULL;
    return models[m];
}

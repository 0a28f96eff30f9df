#ifndef PGVAULT_LOADSINK_H
#define PGVAULT_LOADSINK_H

#include "io/chain.h"

/* The sink that loads the dump into a database (postgres/loader.h); the caller owns l
 * and calls loader_finish after the chain, once it has checked what was read. */
struct loader;
struct filter *filter_loader_new(struct loader *l);

#endif

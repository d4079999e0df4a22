#ifndef ISAERFT_CBLAS_SHIM_H
#define ISAERFT_CBLAS_SHIM_H
#include <cblas.h>
/* Declared by OpenBLAS; reported in benchmarks to show which core was chosen. */
char *openblas_get_corename(void);
int openblas_get_num_threads(void);
void openblas_set_num_threads(int num_threads);
#endif

/** The kernel `FusedAdamOptimizer` runs: one Adam / AdamW update of one variable (see `fusedAdamKernel`). */
export const FusedAdam = 'PeftjsFusedAdam';

"""Biology: genotypes, mutation, kinetic parameters, cells and volumes."""

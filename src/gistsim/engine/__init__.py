"""The clonal-dynamics engine: exact linear birth-death with mutation, over arrays of clones."""

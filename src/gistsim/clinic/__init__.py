"""The clinic: drugs and exposure, imaging and response criteria, surgery, strategies, death."""

# runm: the runc-compatible CLI and the per-container shim.
PROGRAMS += runm
runm_SRCS := runtime/main.c $(COMMON_SRCS)
runm_LIBS := -lyajl

# The host <-> agent protocol: one header and codec compiled by both sides.
PROTO_SRCS := common/proto/proto.c

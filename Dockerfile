# The cabridge image: the static binary in an empty image, running as a
# non-root user on the configuration at /etc/cabridge/cabridge.yaml (the
# demo configuration unless a volume replaces it).
#
#   make docker                 # cabridge:latest for this machine
#   make docker-multiarch       # cabridge:latest-amd64, -arm64, -armv7
#
# Nothing is pulled: the binary is built on the host (CGO_ENABLED=0, see
# the Makefile) and BINARY names it in the build context (default
# bin/cabridge, what `make build` writes).
#
# The first instruction must stay a COPY: the legacy builder (Docker
# without buildx) gives metadata-only steps on top of scratch the host's
# architecture, which breaks `--platform` builds. Its cache ignores the
# platform too, so the Makefile builds with --no-cache.
FROM scratch
COPY deploy/docker/etc/ /etc/
COPY configs/demo.yaml /etc/cabridge/cabridge.yaml
ARG BINARY=bin/cabridge
COPY ${BINARY} /cabridge
ARG VERSION=dev
LABEL org.opencontainers.image.title="cabridge" \
      org.opencontainers.image.description="EPICS Channel Access bridge for Modbus PLCs and other field devices" \
      org.opencontainers.image.source="https://github.com/cabridge/cabridge" \
      org.opencontainers.image.version="${VERSION}"
USER 65532:65532
# CA: TCP circuits and UDP searches on 5064; beacons go out to 5065.
EXPOSE 5064/tcp 5064/udp 5065/udp
# Talks to the server's TCP port on 127.0.0.1 (EPICS_CAS_SERVER_PORT),
# no UDP needed; set CABRIDGE_HEALTH_PV to also read a PV.
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
    CMD ["/cabridge", "healthcheck", "-timeout", "4s"]
ENTRYPOINT ["/cabridge"]
CMD ["run"]

# syntax=docker/dockerfile:1
#
# tokentail: a static binary on distroless, running as a non-root user.
#
#   docker build -t tokentail:dev --build-arg VERSION=$(git describe --tags --always) \
#     --build-arg COMMIT=$(git rev-parse --short=12 HEAD) .
#   docker run --rm -v $PWD/tokentail.yaml:/etc/tokentail/tokentail.yaml:ro \
#     -v /var/log/app:/var/log/app:ro -v tokentail-state:/var/lib/tokentail tokentail:dev
#
# See deploy/README.md for Compose, Kubernetes and systemd.

FROM golang:1.26 AS build
WORKDIR /src
# Modules first: this layer is cached until go.mod or go.sum change.
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
ARG COMMIT=unknown
# CGO off: a static binary that needs no libc in the final image.
RUN CGO_ENABLED=0 go build -trimpath \
      -ldflags "-s -w -X main.version=${VERSION} -X main.commit=${COMMIT}" \
      -o /out/tokentail ./cmd/tokentail \
 && mkdir -p /out/state

# static: CA certificates and tzdata, no shell, no package manager.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/tokentail /tokentail
# The default pricing table and example rules, for configs that point at them.
COPY pricing.yaml rules.example.yaml /usr/share/tokentail/
# The state directory must exist and belong to the user: a fresh named volume
# mounted here takes this ownership.
COPY --from=build --chown=65532:65532 /out/state /var/lib/tokentail
# 65532 is distroless's nonroot user; numeric, so Kubernetes' runAsNonRoot can verify it.
USER 65532:65532
EXPOSE 9464
VOLUME ["/var/lib/tokentail"]
ENTRYPOINT ["/tokentail"]
CMD ["run", "--config", "/etc/tokentail/tokentail.yaml"]

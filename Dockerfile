# syntax=docker/dockerfile:1
# The Mutualis services image: one image, the service chosen by its first argument
# (`actes`, `gateway`, `identity`, `observatory`, `operator`, `portal`, `prefecture-simulator`,
# `proconnect-simulator`, `sesf`), as the
# operator's catalogue and the Helm chart run it:
#   docker build -t registry.example/mutualis/services:0.1.0 .
#   docker run registry.example/mutualis/services:0.1.0 actes
# The local platform runs the same entrypoint (services/image/src/entrypoint.ts) as processes.

FROM node:20.20-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json .npmrc ./
COPY api/package.json api/
COPY cdk8s/package.json cdk8s/
COPY operator/package.json operator/
COPY services/actes/package.json services/actes/
COPY services/gateway/package.json services/gateway/
COPY services/identity/package.json services/identity/
COPY services/image/package.json services/image/
COPY services/ipl/package.json services/ipl/
COPY services/parapheur/package.json services/parapheur/
COPY services/flows/package.json services/flows/
COPY services/kit/package.json services/kit/
COPY services/observatory/package.json services/observatory/
COPY services/portal/package.json services/portal/
COPY services/prefecture-simulator/package.json services/prefecture-simulator/
COPY services/proconnect-simulator/package.json services/proconnect-simulator/
COPY services/sesf/package.json services/sesf/
COPY tools/local/package.json tools/local/
RUN npm ci --no-audit --no-fund
COPY api api
COPY cdk8s cdk8s
COPY operator operator
COPY services services
RUN node services/image/scripts/bundle.mjs /out/services.mjs

FROM gcr.io/distroless/nodejs20-debian12:nonroot
# The same user the Deployments' security context names; nothing is written to the image's disk.
USER 10001:10001
WORKDIR /app
COPY --from=build /out/ /app/
ENV NODE_ENV=production
EXPOSE 8080
ENTRYPOINT ["/nodejs/bin/node", "/app/services.mjs"]

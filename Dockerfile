# algotrade daemon image: build with `docker build -t algotrade .` (see docs/docker.md).
#
# Two stages: the builder compiles wheels of the project and every dependency (a compiler is
# there for any dependency without a wheel for this platform); the runtime stage installs
# those wheels offline and carries no compiler, no pip cache and no source tree.

# Base images pinned to a full version tag; bump both stages together.
FROM python:3.11.13-slim-bookworm AS builder

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore

# Build tools for dependencies that ship only an sdist on this platform (e.g. on arm64).
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /src
COPY pyproject.toml README.md ./
COPY src ./src
# One wheel per distribution (the project's and each dependency's) into /wheels.
RUN pip wheel --wheel-dir /wheels .


FROM python:3.11.13-slim-bookworm AS runtime

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1

# A fixed uid/gid (10001) so secret files and volumes can be chowned on the host to match.
RUN groupadd --system --gid 10001 algotrade \
    && useradd --system --uid 10001 --gid algotrade --home-dir /var/lib/algotrade \
        --no-create-home --shell /usr/sbin/nologin algotrade \
    && install -d -o algotrade -g algotrade -m 0700 /var/lib/algotrade

# From the builder's wheels only (--no-index: nothing is fetched or compiled here). The wheels
# are bind-mounted, not copied, so they add no layer to the image.
RUN --mount=type=bind,from=builder,source=/wheels,target=/wheels \
    pip install --no-index --find-links=/wheels /wheels/algotrade-*.whl

COPY deploy/docker/daemon.toml /etc/algotrade/daemon.toml

USER 10001:10001
WORKDIR /var/lib/algotrade
VOLUME ["/var/lib/algotrade"]
EXPOSE 8080

# The daemon stops its bots and exits 0 on SIGTERM; compose gives it stop_grace_period.
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
    CMD ["algotrade", "health", "--timeout", "4"]

# Exec form: the daemon is the process that receives SIGTERM (no shell in between).
ENTRYPOINT ["algotrade"]
CMD ["daemon", "--config", "/etc/algotrade/daemon.toml"]

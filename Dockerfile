# Houston for `houston serve` in a cluster (deploy/k8s). Two stages: the wheel is built in
# the first, only the wheel and its dependencies reach the second (no compiler, no pip
# cache, no sources). Build: docker build -t houston:0.1.0 .
# Offline: `houston bundle create` collects the same wheels (docs/deploy.md).
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY houston ./houston
COPY packages ./packages
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim
# Bytecode is compiled at install; the root filesystem is read-only at run time.
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HOUSTON_HOME=/var/lib/houston/home
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    pip install --no-cache-dir --no-index --find-links /wheels /wheels/houston-*.whl \
    && groupadd --system --gid 10001 houston \
    && useradd --system --uid 10001 --gid houston --home-dir /var/lib/houston \
       --no-create-home --shell /usr/sbin/nologin houston \
    && mkdir -p /var/lib/houston \
    && chown houston:houston /var/lib/houston
USER 10001:10001
WORKDIR /var/lib/houston
EXPOSE 8765
ENTRYPOINT ["houston"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8765"]

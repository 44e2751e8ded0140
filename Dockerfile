# docx2pdf: the worker and LibreOffice in one image, for Cloud Run.
# Build: docker build -t docx2pdf .   (cloudbuild.yaml does this on Cloud Build)

# ---- build: the release binary --------------------------------------------
FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
# Dependencies first, against empty sources: this layer is rebuilt only when
# Cargo.toml or Cargo.lock change, so a code change recompiles docx2pdf alone.
COPY Cargo.toml Cargo.lock ./
RUN mkdir src && echo 'fn main() {}' > src/main.rs && touch src/lib.rs \
 && cargo build --release --locked \
 && rm -rf src
COPY src src
# touch: the dummy sources above are newer than the real ones' mtimes.
RUN touch src/main.rs src/lib.rs && cargo build --release --locked \
 && install -m 0755 target/release/docx2pdf /usr/local/bin/docx2pdf

# ---- runtime: Debian's LibreOffice, the fonts Word documents expect --------
FROM debian:bookworm-slim AS runtime
# The same packages as ./dev/setup, pinned to the versions the tests and the
# benchmarks ran against (checked by tests/deploy.rs): LibreOffice 25.2 from
# bookworm-backports (every package built from its source, pinned there so
# its libraries move together), everything else from bookworm.
RUN echo "deb http://deb.debian.org/debian bookworm-backports main" \
      > /etc/apt/sources.list.d/docx2pdf-bookworm-backports.list \
 && printf 'Package: src:libreoffice\nPin: release n=bookworm-backports\nPin-Priority: 990\n' \
      > /etc/apt/preferences.d/docx2pdf-libreoffice \
 && apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      libreoffice-writer-nogui=4:25.2.3-2+deb13u5~bpo12+1 \
      libreoffice-uiconfig-writer=4:25.2.3-2+deb13u5~bpo12+1 \
      libreoffice-calc-nogui=4:25.2.3-2+deb13u5~bpo12+1 \
      libreoffice-uiconfig-calc=4:25.2.3-2+deb13u5~bpo12+1 \
      libreoffice-impress-nogui=4:25.2.3-2+deb13u5~bpo12+1 \
      libreoffice-uiconfig-impress=4:25.2.3-2+deb13u5~bpo12+1 \
      libreoffice-draw-nogui=4:25.2.3-2+deb13u5~bpo12+1 \
      libreoffice-uiconfig-draw=4:25.2.3-2+deb13u5~bpo12+1 \
      fonts-crosextra-carlito=20220224-1 \
      fonts-crosextra-caladea=20200211-1 \
      fonts-liberation2=2.1.5-1 \
      fonts-dejavu-core=2.37-6 \
      fonts-noto-core=20201225-1 \
      fonts-sil-charis=6.101-1 \
      fonts-noto-cjk=1:20220127+repack1-1 \
      libjemalloc2=5.3.0-1 \
      poppler-utils=22.12.0-2+deb12u3 \
      tini=0.19.0-1+b3 \
      ca-certificates \
 && apt-get clean \
 && rm -rf /var/lib/apt/lists/*
# Stand-ins for Office fonts without a free twin (README, Fonts).
COPY fonts/30-docx2pdf-substitutes.conf /etc/fonts/conf.d/30-docx2pdf-substitutes.conf
# No login shell, no home of value: LibreOffice's profiles live under TMPDIR.
RUN useradd --uid 10001 --no-create-home --shell /usr/sbin/nologin docx2pdf
COPY --from=build /usr/local/bin/docx2pdf /usr/local/bin/docx2pdf
USER 10001
ENV PORT=8080 \
    LOG_FORMAT=json \
    TMPDIR=/tmp
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s \
  CMD ["/usr/local/bin/docx2pdf", "health"]
# tini is PID 1: it forwards SIGTERM to the worker and reaps every process
# LibreOffice leaves behind (gpg, for one).
ENTRYPOINT ["/usr/bin/tini", "--", "/usr/local/bin/docx2pdf"]
CMD ["worker"]

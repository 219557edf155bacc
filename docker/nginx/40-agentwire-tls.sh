#!/bin/sh
# Run by the nginx image's entrypoint before nginx starts (/docker-entrypoint.d/): writes
# server.conf from tls.conf when a certificate is mounted, else from plain.conf, and says which.
set -eu
conf="${NGINX_CONF_DIR:-/etc/nginx}"
if [ -s "$conf/certs/fullchain.pem" ] && [ -s "$conf/certs/privkey.pem" ]; then
  sed "s/@HTTPS_PORT@/${AGENTWIRE_HTTPS_PORT:-443}/g" "$conf/agentwire/tls.conf" > "$conf/server.conf"
  echo "agentwire: TLS on 443 with $conf/certs/fullchain.pem; port 80 redirects to https://…:${AGENTWIRE_HTTPS_PORT:-443}"
else
  cp "$conf/agentwire/plain.conf" "$conf/server.conf"
  echo "agentwire: no certificate in $conf/certs (fullchain.pem, privkey.pem): plain HTTP on port 80 only; keep it on this machine"
fi

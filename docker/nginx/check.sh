#!/bin/sh
# Checks nginx's configuration without Docker: lays out /etc/nginx as compose.yaml mounts it in
# a temporary folder, runs 40-agentwire-tls.sh without and with a (self-signed) certificate, and
# has `nginx -t` parse each result. Needs an nginx binary (Debian: apt-get install nginx) and
# openssl.
#   sh docker/nginx/check.sh [path/to/nginx]
set -eu
nginx="${1:-nginx}"
here="$(cd "$(dirname "$0")" && pwd)"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
etc="$tmp/etc-nginx"
mkdir -p "$etc/agentwire" "$etc/certs" "$tmp/prefix/logs"
# Temporary files under the prefix too: a packaged nginx's own folders may not exist here.
sed "s|^http {|http {\n  client_body_temp_path $tmp/prefix/body; proxy_temp_path $tmp/prefix/proxy; fastcgi_temp_path $tmp/prefix/fcgi; uwsgi_temp_path $tmp/prefix/uwsgi; scgi_temp_path $tmp/prefix/scgi; access_log $tmp/prefix/logs/access.log;|" "$here/nginx.conf" > "$etc/nginx.conf"
cp "$here"/*.conf "$etc/agentwire/"
check() {
  NGINX_CONF_DIR="$etc" AGENTWIRE_HTTPS_PORT=8443 sh "$here/40-agentwire-tls.sh"
  # Docker's DNS (resolver 127.0.0.11) is not asked by -t; the pid and logs go to the temporary prefix.
  "$nginx" -t -q -e stderr -p "$tmp/prefix/" -c "$etc/nginx.conf" -g "pid $tmp/prefix/nginx.pid;"
  echo "nginx -t: ok ($1)"
}
check 'no certificate: plain HTTP on 80'
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=localhost \
  -keyout "$etc/certs/privkey.pem" -out "$etc/certs/fullchain.pem" 2>/dev/null
check 'a certificate: TLS on 443, 80 redirects'
grep -q 'return 308 https://$host:8443$request_uri' "$etc/server.conf"

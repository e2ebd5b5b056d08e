/**
 * Generated configurations of the external peers. Every one: a single worker, HTTP/1.1 keep-alive
 * to clients and to upstreams, round robin over the same two upstreams, no access log.
 */

export interface Upstream {
  /** Named in the x-upstream response header, so a check can see which one answered. */
  name: string;
  port: number;
}

/** Connections kept open per keep-alive pool, and requests allowed on one connection. */
const keepaliveRequests = 1_000_000;

/** Settings shared by every nginx instance: paths inside its prefix directory, no access log. */
function nginxCommon(dir: string): string {
  return `worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events {
  worker_connections 4096;
}
`;
}

function nginxHttpCommon(dir: string): string {
  return `  access_log off;
  keepalive_requests ${keepaliveRequests};
  keepalive_timeout 75s;
  client_body_temp_path ${dir}/client_body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
`;
}

/** One upstream: a fixed 12-byte body and a header naming it. */
export function nginxUpstreamConf(dir: string, upstream: Upstream): string {
  return `${nginxCommon(dir)}http {
${nginxHttpCommon(dir)}  server {
    listen 127.0.0.1:${upstream.port};
    location / {
      default_type text/plain;
      add_header x-upstream ${upstream.name} always;
      return 200 "hello world\\n";
    }
  }
}
`;
}

/** nginx as the balancer: an upstream block with a keep-alive pool. */
export function nginxBalancerConf(dir: string, port: number, upstreams: readonly Upstream[]): string {
  const servers = upstreams.map((u) => `    server 127.0.0.1:${u.port};`).join('\n');
  return `${nginxCommon(dir)}http {
${nginxHttpCommon(dir)}  upstream backends {
${servers}
    keepalive 64;
    keepalive_requests ${keepaliveRequests};
  }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://backends;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }
}
`;
}

/** HAProxy in HTTP mode, one thread, reusing upstream connections always. */
export function haproxyConf(port: number, upstreams: readonly Upstream[]): string {
  const servers = upstreams.map((u) => `  server ${u.name} 127.0.0.1:${u.port}`).join('\n');
  return `global
  nbthread 1
  maxconn 8192

defaults
  mode http
  option http-keep-alive
  http-reuse always
  timeout connect 5s
  timeout client 30s
  timeout server 30s
  timeout http-keep-alive 75s

frontend bench
  bind 127.0.0.1:${port}
  default_backend upstreams

backend upstreams
  balance roundrobin
${servers}
`;
}

/*
 * weft_pcap: libpcap for Weft's in-process live capture, through Node-API (ABI-stable: the same
 * build loads in Node and in Electron, no rebuild against Electron's headers).
 *
 * What cap did not give and this does: libpcap's packet header (kernel time stamp, in
 * nanoseconds where libpcap offers them; captured and original length), pcap_stats (the kernel's
 * drop counters), promiscuous mode on or off, the kernel snaplen, the buffer size and timeout.
 *
 * Packets are not handed to JavaScript one by one: libpcap's callback copies each into a batch
 * buffer (an ArrayBuffer the caller gives), records of
 *   u32 seconds (low), u32 seconds (high), u32 nanoseconds, u32 caplen, u32 len, data (padded to 4)
 * and JavaScript is called once per batch with (records, bytes used). The capture's descriptor is
 * watched by a libuv poll handle on Node's own loop, in non-blocking mode.
 *
 * Exports: open(options) -> handle, linkType(h), precision(h), start(h, arrayBuffer, callback),
 * stats(h) -> [received, dropped, interfaceDropped], close(h), devices(), libVersion().
 * Errors thrown carry a `code`: 'permission', 'no-device', 'down', 'bad-filter', 'failed'.
 */
#include <node_api.h>
#include <uv.h>
#include <pcap/pcap.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define RECORD_HEADER 20

enum { UV_NONE, UV_POLLING, UV_CLOSING, UV_CLOSED };

typedef struct {
  pcap_t *p;
  uv_poll_t poll;
  int uv;           /* the poll handle: none, polling, closing (libuv still holds it), closed */
  int finalized;    /* JavaScript let go of the handle: free once libuv has too */
  int closed;       /* close() was called */
  int dispatching;  /* inside pcap_dispatch: closing waits until it returns */
  int nano;         /* libpcap delivers nanoseconds */
  napi_env env;
  napi_ref callback;
  napi_ref batch_ref;
  uint8_t *batch;
  size_t batch_len;
  size_t used;
  uint32_t count;
} Handle;

static napi_value throw_code(napi_env env, const char *code, const char *message) {
  napi_value msg, err, c;
  napi_create_string_utf8(env, message, NAPI_AUTO_LENGTH, &msg);
  napi_create_error(env, NULL, msg, &err);
  napi_create_string_utf8(env, code, NAPI_AUTO_LENGTH, &c);
  napi_set_named_property(env, err, "code", c);
  napi_throw(env, err);
  return NULL;
}

static int get_string(napi_env env, napi_value obj, const char *key, char *out, size_t size) {
  napi_value v;
  napi_valuetype t;
  bool has = false;
  out[0] = 0;
  if (napi_has_named_property(env, obj, key, &has) != napi_ok || !has) return 0;
  napi_get_named_property(env, obj, key, &v);
  napi_typeof(env, v, &t);
  if (t != napi_string) return 0;
  size_t len = 0;
  napi_get_value_string_utf8(env, v, out, size, &len);
  return 1;
}

static int64_t get_int(napi_env env, napi_value obj, const char *key, int64_t dflt) {
  napi_value v;
  napi_valuetype t;
  bool has = false;
  if (napi_has_named_property(env, obj, key, &has) != napi_ok || !has) return dflt;
  napi_get_named_property(env, obj, key, &v);
  napi_typeof(env, v, &t);
  if (t == napi_boolean) {
    bool b;
    napi_get_value_bool(env, v, &b);
    return b ? 1 : 0;
  }
  if (t != napi_number) return dflt;
  int64_t n;
  napi_get_value_int64(env, v, &n);
  return n;
}

static void release(Handle *h) {
  if (h->p) {
    pcap_close(h->p);
    h->p = NULL;
  }
  if (h->callback) {
    napi_delete_reference(h->env, h->callback);
    h->callback = NULL;
  }
  if (h->batch_ref) {
    napi_delete_reference(h->env, h->batch_ref);
    h->batch_ref = NULL;
  }
}

static void on_uv_closed(uv_handle_t *u) {
  Handle *h = (Handle *)u->data;
  h->uv = UV_CLOSED;
  if (h->finalized) {
    release(h);
    free(h);
  }
}

/* Stops watching the descriptor (before it is closed, as libuv requires) and closes libpcap. */
static void shut(Handle *h) {
  if (h->uv == UV_POLLING) {
    uv_poll_stop(&h->poll);
    h->uv = UV_CLOSING;
    uv_close((uv_handle_t *)&h->poll, on_uv_closed);
  }
  if (h->p) {
    pcap_close(h->p);
    h->p = NULL;
  }
}

static void finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  Handle *h = (Handle *)data;
  h->finalized = 1;
  h->closed = 1;
  shut(h);
  /* libuv may still hold the poll handle: then its close callback frees */
  if (h->uv == UV_CLOSING) return;
  release(h);
  free(h);
}

static Handle *handle_of(napi_env env, napi_value v) {
  void *data = NULL;
  if (napi_get_value_external(env, v, &data) != napi_ok || !data) {
    throw_code(env, "failed", "not a capture handle");
    return NULL;
  }
  return (Handle *)data;
}

/* The handle given as a call's first argument (NULL, with an exception pending, if it is not one). */
static Handle *handle_arg(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 1) {
    throw_code(env, "failed", "no capture handle given");
    return NULL;
  }
  return handle_of(env, argv[0]);
}

static napi_value js_open(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 1) return throw_code(env, "failed", "open(options) needs its options");
  char device[256], filter[8192], err[PCAP_ERRBUF_SIZE], msg[PCAP_ERRBUF_SIZE + 512];
  if (!get_string(env, argv[0], "device", device, sizeof device) || !device[0]) return throw_code(env, "failed", "open: no device");
  get_string(env, argv[0], "filter", filter, sizeof filter);
  int snaplen = (int)get_int(env, argv[0], "snaplen", 262144);
  int promisc = (int)get_int(env, argv[0], "promiscuous", 1);
  int buffer = (int)get_int(env, argv[0], "bufferSize", 16 << 20);
  int timeout = (int)get_int(env, argv[0], "timeoutMs", 100);
  int immediate = (int)get_int(env, argv[0], "immediate", 0);

  err[0] = 0;
  pcap_t *p = pcap_create(device, err);
  if (!p) {
    snprintf(msg, sizeof msg, "%s", err);
    return throw_code(env, "failed", msg);
  }
  pcap_set_snaplen(p, snaplen);
  pcap_set_promisc(p, promisc);
  pcap_set_timeout(p, timeout);
  pcap_set_buffer_size(p, buffer);
  if (immediate) pcap_set_immediate_mode(p, 1);
#ifdef PCAP_TSTAMP_PRECISION_NANO
  pcap_set_tstamp_precision(p, PCAP_TSTAMP_PRECISION_NANO);
#endif
  int rc = pcap_activate(p);
  if (rc < 0) {
    const char *code = "failed";
    if (rc == PCAP_ERROR_PERM_DENIED || rc == PCAP_ERROR_PROMISC_PERM_DENIED) code = "permission";
    else if (rc == PCAP_ERROR_NO_SUCH_DEVICE) code = "no-device";
    else if (rc == PCAP_ERROR_IFACE_NOT_UP) code = "down";
    const char *detail = pcap_geterr(p);
    snprintf(msg, sizeof msg, "%s%s%s", pcap_statustostr(rc), detail && detail[0] ? ": " : "", detail ? detail : "");
    pcap_close(p);
    return throw_code(env, code, msg);
  }
  if (filter[0]) {
    struct bpf_program prog;
    if (pcap_compile(p, &prog, filter, 1, PCAP_NETMASK_UNKNOWN) < 0) {
      snprintf(msg, sizeof msg, "%s", pcap_geterr(p));
      pcap_close(p);
      return throw_code(env, "bad-filter", msg);
    }
    int set = pcap_setfilter(p, &prog);
    pcap_freecode(&prog);
    if (set < 0) {
      snprintf(msg, sizeof msg, "%s", pcap_geterr(p));
      pcap_close(p);
      return throw_code(env, "bad-filter", msg);
    }
  }
  if (pcap_setnonblock(p, 1, err) < 0) {
    snprintf(msg, sizeof msg, "%s", err);
    pcap_close(p);
    return throw_code(env, "failed", msg);
  }
  Handle *h = (Handle *)calloc(1, sizeof(Handle));
  h->p = p;
  h->env = env;
#ifdef PCAP_TSTAMP_PRECISION_NANO
  h->nano = pcap_get_tstamp_precision(p) == PCAP_TSTAMP_PRECISION_NANO;
#endif
  napi_value ext;
  napi_create_external(env, h, finalize, NULL, &ext);
  return ext;
}

static napi_value js_link_type(napi_env env, napi_callback_info info) {
  napi_value out;
  Handle *h = handle_arg(env, info);
  if (!h) return NULL;
  if (!h->p) return throw_code(env, "failed", "the capture is closed");
  napi_create_int32(env, pcap_datalink(h->p), &out);
  return out;
}

static napi_value js_precision(napi_env env, napi_callback_info info) {
  napi_value out;
  Handle *h = handle_arg(env, info);
  if (!h) return NULL;
  napi_create_string_utf8(env, h->nano ? "nano" : "micro", NAPI_AUTO_LENGTH, &out);
  return out;
}

/* Hands the batch to JavaScript: callback(records, bytes). */
static void flush(Handle *h) {
  if (h->count == 0 || !h->callback) return;
  napi_env env = h->env;
  napi_value cb, global, args[2], result;
  napi_get_reference_value(env, h->callback, &cb);
  napi_get_global(env, &global);
  napi_create_uint32(env, h->count, &args[0]);
  napi_create_uint32(env, (uint32_t)h->used, &args[1]);
  h->count = 0;
  h->used = 0;
  if (napi_call_function(env, global, cb, 2, args, &result) == napi_pending_exception) {
    napi_value e;
    napi_get_and_clear_last_exception(env, &e);
    napi_fatal_exception(env, e);
  }
}

static void on_packet(u_char *user, const struct pcap_pkthdr *hdr, const u_char *bytes) {
  Handle *h = (Handle *)user;
  if (h->closed) return;
  size_t cap = hdr->caplen;
  size_t need = RECORD_HEADER + ((cap + 3) & ~(size_t)3);
  if (h->used + need > h->batch_len) flush(h);
  if (h->closed || need > h->batch_len) return;
  uint8_t *r = h->batch + h->used;
  uint64_t sec = (uint64_t)hdr->ts.tv_sec;
  uint32_t frac = (uint32_t)hdr->ts.tv_usec;
  uint32_t nsec = h->nano ? frac : frac * 1000u;
  uint32_t v[5] = {(uint32_t)(sec & 0xffffffffu), (uint32_t)(sec >> 32), nsec, (uint32_t)cap, (uint32_t)hdr->len};
  memcpy(r, v, sizeof v); /* little-endian hosts: every platform Weft ships on */
  memcpy(r + RECORD_HEADER, bytes, cap);
  h->used += need;
  h->count++;
}

static void on_readable(uv_poll_t *w, int status, int events) {
  (void)events;
  Handle *h = (Handle *)w->data;
  if (status < 0 || h->closed || !h->p) return;
  napi_handle_scope scope;
  napi_open_handle_scope(h->env, &scope);
  /* a bounded number of rounds, so a flood does not starve the event loop */
  for (int round = 0; round < 64 && !h->closed; round++) {
    h->dispatching = 1;
    int n = pcap_dispatch(h->p, -1, on_packet, (u_char *)h);
    h->dispatching = 0;
    flush(h);
    if (n <= 0) break;
  }
  if (h->closed) shut(h);
  napi_close_handle_scope(h->env, scope);
}

static napi_value js_start(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 3) return throw_code(env, "failed", "start(handle, arrayBuffer, callback)");
  Handle *h = handle_of(env, argv[0]);
  if (!h) return NULL;
  if (!h->p || h->closed) return throw_code(env, "failed", "the capture is closed");
  if (h->uv != UV_NONE) return throw_code(env, "failed", "the capture is started already");
  void *data = NULL;
  size_t len = 0;
  if (napi_get_arraybuffer_info(env, argv[1], &data, &len) != napi_ok || len < RECORD_HEADER + 65536) return throw_code(env, "failed", "start: the batch must be an ArrayBuffer of at least 64 KiB");
  napi_create_reference(env, argv[1], 1, &h->batch_ref);
  napi_create_reference(env, argv[2], 1, &h->callback);
  h->batch = (uint8_t *)data;
  h->batch_len = len;
  uv_loop_t *loop = NULL;
  napi_get_uv_event_loop(env, &loop);
  int fd = pcap_get_selectable_fd(h->p);
  if (fd < 0) return throw_code(env, "failed", "this capture has no descriptor to wait on");
  if (uv_poll_init(loop, &h->poll, fd) != 0) return throw_code(env, "failed", "cannot watch the capture's descriptor");
  h->poll.data = h;
  h->uv = UV_POLLING;
  uv_poll_start(&h->poll, UV_READABLE, on_readable);
  return NULL;
}

static napi_value js_stats(napi_env env, napi_callback_info info) {
  napi_value out, v;
  Handle *h = handle_arg(env, info);
  if (!h) return NULL;
  if (!h->p) return throw_code(env, "failed", "the capture is closed");
  struct pcap_stat s;
  memset(&s, 0, sizeof s);
  if (pcap_stats(h->p, &s) < 0) return throw_code(env, "failed", pcap_geterr(h->p));
  napi_create_array_with_length(env, 3, &out);
  napi_create_double(env, (double)s.ps_recv, &v);
  napi_set_element(env, out, 0, v);
  napi_create_double(env, (double)s.ps_drop, &v);
  napi_set_element(env, out, 1, v);
  napi_create_double(env, (double)s.ps_ifdrop, &v);
  napi_set_element(env, out, 2, v);
  return out;
}

static napi_value js_close(napi_env env, napi_callback_info info) {
  Handle *h = handle_arg(env, info);
  if (!h) return NULL;
  if (h->closed) return NULL;
  h->closed = 1;
  if (h->dispatching) {
    /* called from the batch callback: libpcap finishes its dispatch, then on_readable closes */
    pcap_breakloop(h->p);
    return NULL;
  }
  shut(h);
  return NULL;
}

static void set_str(napi_env env, napi_value obj, const char *key, const char *s) {
  napi_value v;
  napi_create_string_utf8(env, s ? s : "", NAPI_AUTO_LENGTH, &v);
  napi_set_named_property(env, obj, key, v);
}

static napi_value js_devices(napi_env env, napi_callback_info info) {
  (void)info;
  char err[PCAP_ERRBUF_SIZE];
  pcap_if_t *all = NULL;
  if (pcap_findalldevs(&all, err) < 0) return throw_code(env, "failed", err);
  napi_value out;
  napi_create_array(env, &out);
  uint32_t i = 0;
  for (pcap_if_t *d = all; d; d = d->next) {
    napi_value o, flags, addrs;
    napi_create_object(env, &o);
    set_str(env, o, "name", d->name);
    set_str(env, o, "description", d->description);
    napi_create_uint32(env, d->flags, &flags);
    napi_set_named_property(env, o, "flags", flags);
    napi_create_array(env, &addrs);
    uint32_t k = 0;
    for (pcap_addr_t *a = d->addresses; a; a = a->next) {
      char text[INET6_ADDRSTRLEN] = {0};
      if (!a->addr) continue;
      if (a->addr->sa_family == AF_INET) inet_ntop(AF_INET, &((struct sockaddr_in *)a->addr)->sin_addr, text, sizeof text);
      else if (a->addr->sa_family == AF_INET6) inet_ntop(AF_INET6, &((struct sockaddr_in6 *)a->addr)->sin6_addr, text, sizeof text);
      else continue;
      napi_value s;
      napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &s);
      napi_set_element(env, addrs, k++, s);
    }
    napi_set_named_property(env, o, "addresses", addrs);
    napi_set_element(env, out, i++, o);
  }
  pcap_freealldevs(all);
  return out;
}

static napi_value js_lib_version(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value v;
  napi_create_string_utf8(env, pcap_lib_version(), NAPI_AUTO_LENGTH, &v);
  return v;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"open", NULL, js_open, NULL, NULL, NULL, napi_default, NULL},
      {"linkType", NULL, js_link_type, NULL, NULL, NULL, napi_default, NULL},
      {"precision", NULL, js_precision, NULL, NULL, NULL, napi_default, NULL},
      {"start", NULL, js_start, NULL, NULL, NULL, napi_default, NULL},
      {"stats", NULL, js_stats, NULL, NULL, NULL, napi_default, NULL},
      {"close", NULL, js_close, NULL, NULL, NULL, napi_default, NULL},
      {"devices", NULL, js_devices, NULL, NULL, NULL, napi_default, NULL},
      {"libVersion", NULL, js_lib_version, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)

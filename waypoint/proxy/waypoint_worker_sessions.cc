// WaypointWorker, the HTTP side of the protocol switch: a CONNECT to an HTTP port, an HTTP/2 or
// gRPC port or one of undeclared protocol is answered 200 at once, then served by Http1Session,
// Http2Session, or (undeclared and not HTTP) an L4 relay, as the port or the client's first
// bytes say. serveTcp (waypoint_worker.cc) answers only once the endpoint is reached.
#include <fmt/format.h>
#include <nghttp2/nghttp2.h>
#include <spdlog/spdlog.h>

#include "mesh/hbone/hbone_stream.h"
#include "waypoint/proxy/waypoint_worker.h"

namespace warren::waypoint {

PortProtocol protocolOfApp(mesh::AppProtocol p) {
  switch (p) {
    case mesh::AppProtocol::kHttp11:
      return PortProtocol::kHttp1;
    case mesh::AppProtocol::kHttp2:
      return PortProtocol::kHttp2;
    case mesh::AppProtocol::kGrpc:
      return PortProtocol::kGrpc;
    case mesh::AppProtocol::kTcp:
    case mesh::AppProtocol::kTls:
      return PortProtocol::kTcp;
    case mesh::AppProtocol::kUnknown:
      break;
  }
  return PortProtocol::kUnspecified;
}

void WaypointWorker::serveHttp(const std::shared_ptr<mesh::HboneConnection>& conn,
                               http2::StreamId id, ConnectionFacts facts, PortProtocol protocol) {
  auto stream = std::make_unique<mesh::HboneStream>(conn);
  stream->bind(id);
  conn->attach(id, stream->handler());
  if (auto s = conn->session().respond(id, 200); !s) {
    spdlog::warn("waypoint: answering CONNECT: {}", s.error().message());
    return;
  }
  conn->flush();
  if (protocol == PortProtocol::kHttp2 || protocol == PortProtocol::kGrpc) {
    startHttp2(std::move(stream), std::move(facts));
    return;
  }
  // An `http` port may be opened with the HTTP/2 preface (h2c with prior knowledge: Envoy's
  // codec_type AUTO, which Istio's HTTP listeners use); an undeclared one may carry anything.
  bool http_port = protocol == PortProtocol::kHttp1;
  auto slot = std::make_shared<ProtocolDetector*>(nullptr);
  auto detector = std::make_unique<ProtocolDetector>(
      loop_, std::move(stream),
      http_port ? sniff::SniffedProtocol::kHttp1 : sniff::SniffedProtocol::kOpaque,
      [this, slot, facts, http_port](sniff::SniffedProtocol p, std::unique_ptr<relay::ByteStream> s,
                                     const std::string& why) {
        // Not destroyed inside its own call stack.
        loop_.post([this, slot] { detecting_.erase(*slot); });
        if (!s) {
          spdlog::debug("waypoint: {} from {}: {}", facts.service_key, facts.client.toString(),
                        why);
          return;
        }
        onDetected(p, std::move(s), facts, http_port);
      });
  *slot = detector.get();
  ProtocolDetector* raw = detector.get();
  detecting_[raw] = std::move(detector);
  raw->start();
}

void WaypointWorker::onDetected(sniff::SniffedProtocol p, std::unique_ptr<relay::ByteStream> stream,
                                ConnectionFacts facts, bool http_port) {
  if (p == sniff::SniffedProtocol::kHttp2) {
    ++detected_["HTTP2"];
    startHttp2(std::move(stream), std::move(facts));
  } else if (p == sniff::SniffedProtocol::kHttp1 || http_port) {
    // On an `http` port anything else is bad HTTP/1.1: Http1Session answers it 400.
    ++detected_["HTTP1"];
    startHttp1(std::move(stream), std::move(facts));
  } else {
    ++detected_["TCP"];
    relayAnswered(std::move(stream), facts);
  }
}

// The on_closed of a session kept in `live`: dropped from it, destroyed from a posted task (not
// from inside the session's own call stack: it holds itself alive meanwhile).
template <typename Session>
std::function<void(Session*)> WaypointWorker::forgetWhenClosed(
    std::map<Session*, std::shared_ptr<Session>>& live) {
  return [this, &live](Session* s) {
    auto it = live.find(s);
    if (it == live.end()) return;
    auto gone = std::move(it->second);
    live.erase(it);
    loop_.post([gone = std::move(gone)] {});
  };
}

void WaypointWorker::startHttp1(std::unique_ptr<relay::ByteStream> stream, ConnectionFacts facts) {
  auto session = std::make_shared<Http1Session>(
      env_, std::move(facts), std::make_unique<StreamConduit>(std::move(stream), nullptr),
      forgetWhenClosed(sessions_));
  sessions_[session.get()] = session;
  session->start();
}

void WaypointWorker::startHttp2(std::unique_ptr<relay::ByteStream> stream, ConnectionFacts facts) {
  ++h2_sessions_started_;
  auto session = std::make_shared<Http2Session>(
      env_, h2_upstreams_, shared_.http2, std::move(facts),
      std::make_unique<StreamConduit>(std::move(stream), nullptr),
      [this, forget = forgetWhenClosed(h2_sessions_)](Http2Session* s) {
        // Why the waypoint ended a client's HTTP/2 connection (floods, broken frames, header
        // timeouts), by GOAWAY code: the abuse suite's evidence.
        if (auto code = s->goAwaySent()) ++h2_goaways_sent_[nghttp2_http2_strerror(*code)];
        forget(s);
      });
  h2_sessions_[session.get()] = session;
  session->start();
}

void WaypointWorker::relayAnswered(std::unique_ptr<relay::ByteStream> stream,
                                   const ConnectionFacts& facts) {
  const auto& snapshot = state_.get();
  const mesh::Workload* self = localWorkload(*snapshot);
  const mesh::Service* service = serviceByKey(*snapshot, facts.service_key);
  auto held = std::make_shared<std::unique_ptr<relay::ByteStream>>(std::move(stream));
  auto drop = [this, held](const std::string& why) {
    // The tunnel was answered 200 already: ending it is the only refusal left.
    spdlog::info("waypoint: TCP: {}", why);
    (*held)->close();
    loop_.post([held] {});
  };
  if (!service || !self) {
    drop(facts.service_key + " is not in the mesh state");
    return;
  }
  // Not HTTP after all: the L7 policies are asked about the connection, as for a TCP port
  // (HTTP-only fields fail closed); a denial ends the tunnel.
  if (std::string why; shared_.admission && facts.service_ref &&
                       !shared_.admission->admitConnection(facts.connection, &*facts.service_ref, &why)) {
    drop("L7 authorization of an undeclared port's opaque bytes: " + why);
    return;
  }
  auto choice = upstreams_.choose(*snapshot, *service, facts.port, *self, random_);
  if (!choice) {
    drop(fmt::format("{}:{}: {}", facts.service_key, facts.port, choice.error().detail));
    return;
  }
  std::string uid = choice->endpoint_uid;
  std::string what =
      fmt::format("{}:{} -> {}", facts.service_key, facts.port, choice->address.toString());
  upstreams_.begin(uid);
  upstreams_.open(*choice, facts.client,
                  [this, held, uid, what, drop](Result<std::unique_ptr<relay::ByteStream>> up) {
                    if (!up) {
                      upstreams_.end(uid);
                      drop(what + ": " + up.error().message());
                      return;
                    }
                    startRelay(std::move(*held), std::move(*up), uid, what);
                  });
}

void WaypointWorker::startRelay(std::unique_ptr<relay::ByteStream> client,
                                std::unique_ptr<relay::ByteStream> up, const std::string& uid,
                                const std::string& what) {
  auto slot = std::make_shared<relay::StreamRelay*>(nullptr);
  auto relay = relay::StreamRelay::create(
      std::move(client), std::move(up),
      [this, uid, what, slot](const relay::RelayStats& st, const std::optional<Error>& e) {
        upstreams_.end(uid);
        ++tcp_relays_done_;
        spdlog::debug("waypoint: TCP {} done: {} B up, {} B down{}", what, st.a_to_b.bytes,
                      st.b_to_a.bytes, e ? ": " + e->message() : "");
        // Not from inside the relay's own call stack.
        loop_.post([this, slot] { relays_.erase(*slot); });
      });
  *slot = relay.get();
  relays_[relay.get()] = relay;
  relay->start();
}

}  // namespace warren::waypoint

import type { ApolloServerPlugin } from "@apollo/server";
import { context, defaultTextMapGetter, SpanKind, SpanStatusCode, trace, type Tracer } from "@opentelemetry/api";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import type { RequestHandler } from "express";

/**
 * Starts the span of a GraphQL request and makes it the active one while the
 * request is handled, so the provider calls, database round trips and Redis
 * commands it causes are its children. It ends when the response is sent.
 * A request that carries W3C trace context (`traceparent`, as the supergraph's
 * router sends it) continues that trace (and is recorded whatever its flags say).
 */
export function operationSpans(tracer: Tracer): RequestHandler {
  const propagator = new W3CTraceContextPropagator();
  return (request, response, next) => {
    const parent = propagator.extract(context.active(), request.headers, defaultTextMapGetter);
    const span = tracer.startSpan("graphql", { kind: SpanKind.SERVER, attributes: { "http.request.method": request.method } }, parent);
    let ended = false;
    const end = () => {
      if (ended) return;
      ended = true;
      span.setAttribute("http.response.status_code", response.statusCode);
      if (response.statusCode >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
      span.end();
    };
    response.once("finish", end);
    response.once("close", end);
    context.with(trace.setSpan(parent, span), next);
  };
}

/** Names the request's span after its operation once Apollo has resolved it: `mutation Verify`, `query Me`. */
export function operationSpanNames(): ApolloServerPlugin {
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ operation, operationName }) {
          const span = trace.getActiveSpan();
          if (!span || !operation) return;
          span.updateName(`${operation.operation} ${operationName ?? "anonymous"}`);
          span.setAttributes({ "graphql.operation.type": operation.operation, "graphql.operation.name": operationName ?? "" });
        },
      };
    },
  };
}

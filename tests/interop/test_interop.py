"""Drives a live Segmentation server with Python grpcio (stubs generated from our protos).

Prints one line per test and ends with "interop: N passed, M failed".
"""
import collections
import os
import sys
import time
import unittest

import grpc
from google.protobuf.timestamp_pb2 import Timestamp

from stdgrpc.health.v1 import health_pb2, health_pb2_grpc
from stdgrpc.reflection.v1 import reflection_pb2 as refl_v1, reflection_pb2_grpc as refl_v1_grpc
from stdgrpc.reflection.v1alpha import reflection_pb2 as refl_v1alpha, reflection_pb2_grpc as refl_v1alpha_grpc
from segmentation.v1 import events_pb2, events_pb2_grpc, profiles_pb2, profiles_pb2_grpc, segments_pb2, segments_pb2_grpc
from segmentation.v1 import recommendations_pb2, recommendations_pb2_grpc

ADDRESS = os.environ["SEGMENTATION_ADDRESS"]
# The server requires keys (run.sh starts it with a bootstrap key); every call but health and reflection sends it.
API_KEY = os.environ["SEGMENTATION_API_KEY"]
EXPECTED_SERVICES = {
    "segmentation.v1.EventService",
    "segmentation.v1.ProfileService",
    "segmentation.v1.RecommendationService",
    "segmentation.v1.SegmentService",
    "grpc.health.v1.Health",
    "grpc.reflection.v1.ServerReflection",
    "grpc.reflection.v1alpha.ServerReflection",
}


def ts(seconds_ago):
    t = Timestamp()
    t.FromSeconds(int(time.time() - seconds_ago))
    return t


def event(event_id, user, kind, item="sku-1", price=10.0, quantity=1, seconds_ago=3600, **extra):
    e = events_pb2.Event(event_id=event_id, user_id=user, type=kind, item_id=item, category="home.kitchen",
                         price=price, quantity=quantity, currency="EUR", timestamp=ts(seconds_ago), **extra)
    return e


class _CallDetails(collections.namedtuple("_CallDetails", ("method", "timeout", "metadata", "credentials", "wait_for_ready", "compression")),
                   grpc.ClientCallDetails):
    pass


class ApiKeyInterceptor(grpc.UnaryUnaryClientInterceptor, grpc.UnaryStreamClientInterceptor,
                        grpc.StreamUnaryClientInterceptor, grpc.StreamStreamClientInterceptor):
    """Adds `authorization: Bearer <key>` metadata to every call (grpcio's call credentials need TLS)."""

    def __init__(self, key):
        self.key = key

    def _details(self, details):
        metadata = list(details.metadata or []) + [("authorization", "Bearer " + self.key)]
        return _CallDetails(details.method, details.timeout, metadata, details.credentials,
                            getattr(details, "wait_for_ready", None), getattr(details, "compression", None))

    def intercept_unary_unary(self, continuation, details, request):
        return continuation(self._details(details), request)

    def intercept_unary_stream(self, continuation, details, request):
        return continuation(self._details(details), request)

    def intercept_stream_unary(self, continuation, details, requests):
        return continuation(self._details(details), requests)

    def intercept_stream_stream(self, continuation, details, requests):
        return continuation(self._details(details), requests)


class Interop(unittest.TestCase):
    channel = None
    run_id = str(int(time.time() * 1000))

    @classmethod
    def setUpClass(cls):
        cls.channel = grpc.insecure_channel(ADDRESS)
        grpc.channel_ready_future(cls.channel).result(timeout=60)
        # The server may still be starting: wait until health says SERVING.
        stub = health_pb2_grpc.HealthStub(cls.channel)
        deadline = time.time() + 60
        while True:
            try:
                if stub.Check(health_pb2.HealthCheckRequest(), timeout=5).status == health_pb2.HealthCheckResponse.SERVING:
                    break
            except grpc.RpcError:
                pass
            if time.time() > deadline:
                raise RuntimeError("server never became SERVING")
            time.sleep(0.2)
        cls.keyed = grpc.intercept_channel(cls.channel, ApiKeyInterceptor(API_KEY))
        cls.events = events_pb2_grpc.EventServiceStub(cls.keyed)
        cls.profiles = profiles_pb2_grpc.ProfileServiceStub(cls.keyed)
        cls.segments = segments_pb2_grpc.SegmentServiceStub(cls.keyed)
        cls.recommendations = recommendations_pb2_grpc.RecommendationServiceStub(cls.keyed)

    @classmethod
    def tearDownClass(cls):
        cls.channel.close()

    def uid(self, name):
        return "py-%s-%s" % (self.run_id, name)

    def test_health_check_serving(self):
        stub = health_pb2_grpc.HealthStub(self.channel)
        self.assertEqual(stub.Check(health_pb2.HealthCheckRequest(service="")).status,
                         health_pb2.HealthCheckResponse.SERVING)

    def test_health_watch_streams_current_status(self):
        stub = health_pb2_grpc.HealthStub(self.channel)
        call = stub.Watch(health_pb2.HealthCheckRequest(service=""), timeout=10)
        first = next(call)
        self.assertEqual(first.status, health_pb2.HealthCheckResponse.SERVING)
        call.cancel()

    def test_reflection_lists_services_v1_and_v1alpha(self):
        for pb, grpc_mod in ((refl_v1, refl_v1_grpc), (refl_v1alpha, refl_v1alpha_grpc)):
            stub = grpc_mod.ServerReflectionStub(self.channel)
            responses = list(stub.ServerReflectionInfo(iter([pb.ServerReflectionRequest(list_services="")]), timeout=10))
            self.assertEqual(len(responses), 1)
            names = {s.name for s in responses[0].list_services_response.service}
            self.assertTrue(EXPECTED_SERVICES <= names, names)

    def test_reflection_file_containing_symbol(self):
        stub = refl_v1_grpc.ServerReflectionStub(self.channel)
        req = refl_v1.ServerReflectionRequest(file_containing_symbol="segmentation.v1.EventService")
        response = list(stub.ServerReflectionInfo(iter([req]), timeout=10))[0]
        self.assertGreater(len(response.file_descriptor_response.file_descriptor_proto), 0)

    def test_ingest_accepts_valid_and_rejects_invalid_with_field(self):
        user = self.uid("ingest")
        batch = events_pb2.IngestEventsRequest(events=[
            event(user + "-1", user, events_pb2.EVENT_TYPE_VIEW),
            event(user + "-2", user, events_pb2.EVENT_TYPE_PURCHASE, price=-5.0),
            event(user + "-3", user, events_pb2.EVENT_TYPE_PURCHASE, price=25.0, quantity=2),
        ])
        response = self.events.IngestEvents(batch, timeout=30)
        self.assertEqual((response.accepted, response.rejected, response.duplicates), (2, 1, 0))
        self.assertEqual(response.results[1].outcome, events_pb2.INGEST_OUTCOME_REJECTED)
        self.assertEqual(response.results[1].field, "price")
        again = self.events.IngestEvents(batch, timeout=30)
        self.assertEqual((again.accepted, again.duplicates, again.rejected), (0, 2, 1))

    def test_profile_and_segments_reflect_ingested_events(self):
        user = self.uid("profile")
        self.events.IngestEvents(events_pb2.IngestEventsRequest(events=[
            event(user + "-1", user, events_pb2.EVENT_TYPE_VIEW, seconds_ago=7200),
            event(user + "-2", user, events_pb2.EVENT_TYPE_PURCHASE, price=12.5, quantity=2, seconds_ago=3600),
        ]), timeout=30)
        profile = self.profiles.GetProfile(profiles_pb2.GetProfileRequest(user_id=user), timeout=10)
        self.assertEqual(profile.event_count, 2)
        self.assertEqual(profile.orders, 1)
        self.assertAlmostEqual(profile.spend, 25.0)
        self.assertEqual(profile.top_categories[0].category.split(".")[0], "home")
        segments = self.segments.GetUserSegments(segments_pb2.GetUserSegmentsRequest(user_id=user), timeout=10)
        self.assertNotEqual(segments.lifecycle.stage, profiles_pb2.LIFECYCLE_STAGE_UNSPECIFIED)
        self.assertTrue(segments.lifecycle.explanation)
        batch = self.segments.BatchGetUserSegments(
            segments_pb2.BatchGetUserSegmentsRequest(user_ids=[user, self.uid("nobody")]), timeout=10)
        self.assertEqual([u.user_id for u in batch.users], [user])
        self.assertEqual(list(batch.not_found), [self.uid("nobody")])

    def test_unknown_user_is_not_found(self):
        with self.assertRaises(grpc.RpcError) as caught:
            self.profiles.GetProfile(profiles_pb2.GetProfileRequest(user_id=self.uid("ghost")), timeout=10)
        self.assertEqual(caught.exception.code(), grpc.StatusCode.NOT_FOUND)

    def test_empty_user_id_is_invalid_argument(self):
        with self.assertRaises(grpc.RpcError) as caught:
            self.segments.GetUserSegments(segments_pb2.GetUserSegmentsRequest(user_id=""), timeout=10)
        self.assertEqual(caught.exception.code(), grpc.StatusCode.INVALID_ARGUMENT)
        self.assertIn("user_id", caught.exception.details())

    def test_gzip_compressed_request(self):
        user = self.uid("gzip")
        batch = events_pb2.IngestEventsRequest(events=[
            event("%s-%d" % (user, i), user, events_pb2.EVENT_TYPE_VIEW, item="sku-%d" % i) for i in range(50)])
        response = self.events.IngestEvents(batch, timeout=30, compression=grpc.Compression.Gzip)
        self.assertEqual(response.accepted, 50)

    def test_client_streaming_bulk_ingest(self):
        user = self.uid("stream")

        def batches():
            for b in range(5):
                yield events_pb2.IngestEventsRequest(events=[
                    event("%s-%d-%d" % (user, b, i), "%s-%d" % (user, i % 7), events_pb2.EVENT_TYPE_VIEW)
                    for i in range(200)])
            yield events_pb2.IngestEventsRequest(events=[event("", user, events_pb2.EVENT_TYPE_VIEW)])

        summary = self.events.StreamEvents(batches(), timeout=60)
        self.assertEqual((summary.received, summary.accepted, summary.rejected), (1001, 1000, 1))
        self.assertIn("event_id", summary.top_rejection_reasons[0].reason)

    def test_recommend_learns_a_purchase_at_once_and_explains_every_item(self):
        a, b, me = self.uid("rec-item-a"), self.uid("rec-item-b"), self.uid("rec-me")
        shoppers = [self.uid("rec-shopper-%d" % i) for i in range(3)]
        batch = []
        for i, s in enumerate(shoppers):
            batch.append(event(s + "-a", s, events_pb2.EVENT_TYPE_PURCHASE, item=a, seconds_ago=600 + i))
            batch.append(event(s + "-b", s, events_pb2.EVENT_TYPE_PURCHASE, item=b, seconds_ago=500 + i))
        batch.append(event(me + "-view", me, events_pb2.EVENT_TYPE_VIEW, item=self.uid("rec-other"), seconds_ago=400))
        self.assertEqual(self.events.IngestEvents(events_pb2.IngestEventsRequest(events=batch), timeout=30).accepted, len(batch))
        self.events.IngestEvents(events_pb2.IngestEventsRequest(events=[
            event(me + "-buy", me, events_pb2.EVENT_TYPE_PURCHASE, item=a, seconds_ago=300)]), timeout=30)
        response = self.recommendations.Recommend(recommendations_pb2.RecommendRequest(user_id=me, count=5), timeout=10)
        items = [x.item_id for x in response.items]
        self.assertNotIn(a, items)
        self.assertEqual(items[0], b)
        self.assertEqual(response.items[0].reason.kind, recommendations_pb2.REASON_KIND_BOUGHT_TOGETHER)
        self.assertEqual(response.items[0].reason.cause, a)
        self.assertTrue(all(x.reason.text for x in response.items))
        similar = self.recommendations.SimilarItems(recommendations_pb2.SimilarItemsRequest(item_id=a, count=3), timeout=10)
        self.assertEqual(similar.items[0].item_id, b)

    def test_recommend_bad_requests_get_specific_statuses(self):
        with self.assertRaises(grpc.RpcError) as caught:
            self.recommendations.Recommend(recommendations_pb2.RecommendRequest(user_id=self.uid("x"), count=0), timeout=10)
        self.assertEqual(caught.exception.code(), grpc.StatusCode.INVALID_ARGUMENT)
        self.assertTrue(caught.exception.details().startswith("count:"))
        with self.assertRaises(grpc.RpcError) as caught:
            self.recommendations.Recommend(recommendations_pb2.RecommendRequest(user_id=self.uid("ghost"), count=5), timeout=10)
        self.assertEqual(caught.exception.code(), grpc.StatusCode.NOT_FOUND)
        with self.assertRaises(grpc.RpcError) as caught:
            self.recommendations.SimilarItems(recommendations_pb2.SimilarItemsRequest(item_id=self.uid("no-item"), count=5), timeout=10)
        self.assertEqual(caught.exception.code(), grpc.StatusCode.NOT_FOUND)

    def test_call_without_key_is_unauthenticated_and_with_a_wrong_key_too(self):
        anonymous = segments_pb2_grpc.SegmentServiceStub(self.channel)
        with self.assertRaises(grpc.RpcError) as caught:
            anonymous.GetUserSegments(segments_pb2.GetUserSegmentsRequest(user_id=self.uid("anyone")), timeout=10)
        self.assertEqual(caught.exception.code(), grpc.StatusCode.UNAUTHENTICATED)
        self.assertIn("no API key", caught.exception.details())
        wrong = segments_pb2_grpc.SegmentServiceStub(grpc.intercept_channel(self.channel, ApiKeyInterceptor("seg_0123456789ab_" + "x" * 43)))
        with self.assertRaises(grpc.RpcError) as caught:
            wrong.GetUserSegments(segments_pb2.GetUserSegmentsRequest(user_id=self.uid("anyone")), timeout=10)
        self.assertEqual(caught.exception.code(), grpc.StatusCode.UNAUTHENTICATED)
        with self.assertRaises(grpc.RpcError) as caught:
            segments_pb2_grpc.SegmentServiceStub(self.channel).GetUserSegments(
                segments_pb2.GetUserSegmentsRequest(user_id=self.uid("anyone")), metadata=[("x-api-key", API_KEY)], timeout=10)
        self.assertEqual(caught.exception.code(), grpc.StatusCode.NOT_FOUND)

    def test_unknown_method_is_unimplemented(self):
        call = self.keyed.unary_unary("/segmentation.v1.EventService/NoSuchMethod",
                                        request_serializer=lambda b: b, response_deserializer=lambda b: b)
        with self.assertRaises(grpc.RpcError) as caught:
            call(b"", timeout=10)
        self.assertEqual(caught.exception.code(), grpc.StatusCode.UNIMPLEMENTED)


if __name__ == "__main__":
    suite = unittest.defaultTestLoader.loadTestsFromTestCase(Interop)
    result = unittest.TextTestRunner(stream=sys.stdout, verbosity=2).run(suite)
    failed = len(result.failures) + len(result.errors)
    passed = result.testsRun - failed - len(result.skipped)
    print("interop: %d passed, %d failed" % (passed, failed))
    sys.exit(0 if failed == 0 else 1)

using Google.Protobuf.Reflection;
using Google.Protobuf.WellKnownTypes;
using Segmentation.Contracts.V1;

namespace Segmentation.Host.Tests;

/// <summary>Events and method descriptors for tests.</summary>
internal static class Events
{
    public static readonly MethodDescriptor Ingest = Method(EventsReflection.Descriptor, "EventService", "IngestEvents");
    public static readonly MethodDescriptor Stream = Method(EventsReflection.Descriptor, "EventService", "StreamEvents");
    public static readonly MethodDescriptor GetProfile = Method(ProfilesReflection.Descriptor, "ProfileService", "GetProfile");
    public static readonly MethodDescriptor BatchGetProfiles = Method(ProfilesReflection.Descriptor, "ProfileService", "BatchGetProfiles");
    public static readonly MethodDescriptor GetUserSegments = Method(SegmentsReflection.Descriptor, "SegmentService", "GetUserSegments");
    public static readonly MethodDescriptor BatchGetUserSegments = Method(SegmentsReflection.Descriptor, "SegmentService", "BatchGetUserSegments");
    public static readonly MethodDescriptor Recommend = Method(RecommendationsReflection.Descriptor, "RecommendationService", "Recommend");
    public static readonly MethodDescriptor GetServerStats = Method(AdminReflection.Descriptor, "AdminService", "GetServerStats");

    public static Event Make(string id, string user, EventType type, DateTimeOffset at, string item = "sku-1", double price = 10, int quantity = 1, string category = "home.kitchen")
    {
        return new Event
        {
            EventId = id,
            UserId = user,
            Type = type,
            ItemId = item,
            Category = category,
            Price = price,
            Quantity = type is EventType.View or EventType.Search or EventType.Rating or EventType.Review or EventType.Wishlist ? 0 : quantity,
            Rating = type == EventType.Rating ? 4 : 0,
            Currency = "EUR",
            Timestamp = Timestamp.FromDateTimeOffset(at),
        };
    }

    public static IngestEventsRequest Batch(params Event[] events)
    {
        var request = new IngestEventsRequest();
        request.Events.Add(events);
        return request;
    }

    private static MethodDescriptor Method(FileDescriptor file, string service, string method) =>
        file.FindTypeByName<ServiceDescriptor>(service).FindMethodByName(method);
}

using Segmentation.Host.Embeddings;
using Segmentation.Host.Recommendations;
using Segmentation.Host.Segments;
using Segmentation.Host.Services;
using Segmentation.Storage;

namespace Segmentation.Host.Hosting;

/// <summary>
/// The domain components of the embedded deployment that the gRPC services depend on, as <see cref="SegmentationServer"/>
/// builds them; the host's DI container hands each one out. Owned (started and disposed) by the server.
/// </summary>
internal sealed record EmbeddedComponents(
    IEventLog EventLog,
    EventIngestion Ingestion,
    UserLookup Users,
    RuleSegmentCatalog Rules,
    SegmentChangeFeed Changes,
    MlSegmentation Ml,
    LiveRecommender Recommender,
    UserEmbeddings Embeddings,
    Reclustering Reclustering);

using Microsoft.AspNetCore.Mvc.RazorPages;

namespace Segmentation.Host.WebConsole.Pages;

/// <summary>A 2-D PCA projection of a sample of user embeddings, coloured by ML segment, with the centroids.</summary>
internal sealed class MapModel : PageModel
{
    private readonly ConsoleData _data;

    public MapModel(ConsoleData data) => _data = data;

    public EmbeddingMap? Map { get; private set; }

    public IReadOnlyDictionary<int, string> Labels { get; private set; } = new Dictionary<int, string>();

    public async Task OnGetAsync(CancellationToken cancellationToken)
    {
        Map = await _data.MapAsync(cancellationToken);
        if (_data.Model is { } model)
        {
            Labels = model.SegmentIds.ToDictionary(id => id, model.LabelOf);
        }
    }
}

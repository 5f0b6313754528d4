using System.Text.Json;
using Microsoft.AspNetCore.Html;

namespace Segmentation.Host.WebConsole;

/// <summary>
/// A Chart.js chart on a page: a canvas and the script that draws it from a configuration the server wrote. The
/// numbers travel in the page itself, so what a chart shows is what the server rendered (the browser test reads them back
/// with <c>Chart.getChart(id)</c>).
/// </summary>
internal static class ChartHtml
{
    // The default encoder escapes '<', '>' and '&', so no value can close the script element.
    private static readonly JsonSerializerOptions s_json = new(JsonSerializerDefaults.Web);

    /// <summary>A canvas with id <paramref name="id"/> drawn with <paramref name="config"/> (type, data, options).</summary>
    public static IHtmlContent Chart(string id, object config, bool wide = false) => new HtmlString(
        $"<div class=\"chart{(wide ? " wide" : "")}\"><canvas id=\"{id}\"></canvas></div>"
        + $"<script>new Chart(document.getElementById('{id}'), {JsonSerializer.Serialize(config, s_json)});</script>");

    /// <summary>A palette entry for series <paramref name="index"/>.</summary>
    public static string Colour(int index) => s_palette[index % s_palette.Length];

    private static readonly string[] s_palette =
        ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac", "#1f77b4", "#d62728"];
}

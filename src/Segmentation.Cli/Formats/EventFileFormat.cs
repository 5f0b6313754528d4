namespace Segmentation.Cli.Formats;

/// <summary>The event file formats <c>seg ingest</c> reads (names on the command line in brackets).</summary>
public enum EventFileFormat
{
    /// <summary>[online-retail] UCI Online Retail CSV: one invoice line per row, with a header.</summary>
    OnlineRetail,

    /// <summary>[rees46] REES46 "eCommerce behavior data from multi category store" CSV, with a header.</summary>
    Rees46,

    /// <summary>[taobao] Taobao <c>UserBehavior.csv</c>: <c>user,item,category,behavior,unix_ts</c>, no header.</summary>
    Taobao,

    /// <summary>[movielens] MovieLens <c>u.data</c>: <c>user \t item \t rating \t unix_ts</c>, no header.</summary>
    MovieLens,

    /// <summary>[jsonl] One protobuf-JSON <c>segmentation.v1.Event</c> per line.</summary>
    Jsonl,
}

namespace CsiDriver.Demo.Shop;

/// <summary>
/// The demo's business: a shop selling a few items. Order n sells a quantity of one item; both
/// are derived from n alone, so a checker can tell what any order must have recorded.
/// </summary>
public static class ShopCatalog
{
    /// <summary>Stock of every item before the first order; large enough never to run out.</summary>
    public const long InitialStock = 10_000_000;

    public static readonly IReadOnlyList<string> Items =
        ["anchor", "barometer", "compass", "lantern", "oilskin", "rope", "sextant", "telescope"];

    public static string ItemOf(long order) => Items[(int)((order * 2654435761L & 0x7fffffff) % Items.Count)];

    public static int QuantityOf(long order) => (int)(order % 5) + 1;
}

/// <summary>What an analytics query at the backup found for one item.</summary>
/// <param name="Sold">Quantity sold in orders that also reached the stock database.</param>
/// <param name="StockLeft">What the stock database says is left.</param>
public sealed record ItemFigures(string Item, long Orders, long Sold, long StockLeft)
{
    /// <summary>Sold plus left must be what there was: the cross-database invariant per item.</summary>
    public bool Balances => Sold + StockLeft == ShopCatalog.InitialStock;
}

/// <summary>
/// A check of one pair of databases (or block logs) read together: the newest order each
/// holds, the problems found, and per-item figures where the variant has them.
/// </summary>
/// <param name="SalesOrders">Orders recorded in sales (the half written first).</param>
/// <param name="StockOrders">Orders whose stock movement is recorded (written second).</param>
public sealed record PairCheck(long SalesOrders, long StockOrders, IReadOnlyList<string> Problems, IReadOnlyList<ItemFigures> Items)
{
    public bool IsConsistent => Problems.Count == 0;

    /// <summary>Orders present in both halves: the business state this pair stands for.</summary>
    public long CompleteOrders => Math.Min(SalesOrders, StockOrders);

    public override string ToString() =>
        $"sales at order {SalesOrders}, stock at order {StockOrders}: " +
        (IsConsistent ? "consistent" : string.Join("; ", Problems));
}

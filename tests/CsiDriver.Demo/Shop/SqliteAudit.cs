using Microsoft.Data.Sqlite;

namespace CsiDriver.Demo.Shop;

/// <summary>
/// Reads a sales.db and a stock.db together (clones of a backup snapshot, or promoted
/// replicas) and says whether they are a state the shop really passed through. Orders are
/// committed one at a time, sales first: so every real state has sales holding orders 1..S and
/// stock holding movements 1..M with M = S or M = S − 1 (the order in flight), every movement
/// matching its sale, and each item's stock equal to what there was less what moved. Anything
/// else — a sale older than the newest movement without its movement, a movement without its
/// sale — is the two volumes taken at different moments.
/// </summary>
public static class SqliteAudit
{
    private const int MaxProblemsListed = 8;

    public static PairCheck Check(string salesDirectory, string stockDirectory)
    {
        using var sales = SqliteShop.Connect(Path.Combine(salesDirectory, SqliteShop.SalesFile), SqliteOpenMode.ReadWrite);
        using var stock = SqliteShop.Connect(Path.Combine(stockDirectory, SqliteShop.StockFile), SqliteOpenMode.ReadWrite);
        var problems = new List<string>();
        var (salesCount, salesMax) = CountAndMax(sales, "SELECT COUNT(*), COALESCE(MAX(id), 0) FROM orders");
        var (stockCount, stockMax) = CountAndMax(stock, "SELECT COUNT(*), COALESCE(MAX(order_id), 0) FROM movements");
        if (salesCount != salesMax)
        {
            problems.Add($"sales holds {salesCount} orders but its newest is {salesMax}: orders are missing");
        }
        if (stockCount != stockMax)
        {
            problems.Add($"stock holds {stockCount} movements but its newest is order {stockMax}: movements are missing");
        }
        if (stockMax > salesMax)
        {
            problems.Add($"{stockMax - salesMax} stock movement(s) without their sale (orders {salesMax + 1}..{stockMax})");
        }
        else if (salesMax > stockMax + 1)
        {
            problems.Add($"{salesMax - stockMax - 1} sale(s) without their stock movement (orders {stockMax + 1}..{salesMax - 1}; order {salesMax} may be in flight)");
        }

        var sold = Sold(sales, Math.Min(salesMax, stockMax));
        var moved = Moved(stock);
        var left = StockLeft(stock);
        var items = ShopCatalog.Items.Select(item => new ItemFigures(
            item,
            sold.GetValueOrDefault(item).Orders,
            sold.GetValueOrDefault(item).Quantity,
            left.GetValueOrDefault(item))).ToList();
        foreach (var item in items.Where(i => moved.GetValueOrDefault(i.Item) + i.StockLeft != ShopCatalog.InitialStock))
        {
            problems.Add($"{item.Item}: stock left {item.StockLeft} does not match the {moved.GetValueOrDefault(item.Item)} moved out");
        }
        if (problems.Count == 0)
        {
            foreach (var item in items.Where(i => !i.Balances))
            {
                problems.Add($"{item.Item}: sold {item.Sold} + left {item.StockLeft} != {ShopCatalog.InitialStock}");
            }
        }
        return new PairCheck(salesMax, stockMax, problems.Take(MaxProblemsListed).ToList(), items);
    }

    private static (long Count, long Max) CountAndMax(SqliteConnection connection, string query)
    {
        using var command = connection.CreateCommand();
        command.CommandText = query;
        using var reader = command.ExecuteReader();
        reader.Read();
        return (reader.GetInt64(0), reader.GetInt64(1));
    }

    /// <summary>Analytics query "sales per item" over orders 1..<paramref name="upTo"/>.</summary>
    private static Dictionary<string, (long Orders, long Quantity)> Sold(SqliteConnection sales, long upTo)
    {
        using var command = sales.CreateCommand();
        command.CommandText = "SELECT item, COUNT(*), SUM(quantity) FROM orders WHERE id <= $upTo GROUP BY item";
        command.Parameters.AddWithValue("$upTo", upTo);
        using var reader = command.ExecuteReader();
        var result = new Dictionary<string, (long, long)>(StringComparer.Ordinal);
        while (reader.Read())
        {
            result[reader.GetString(0)] = (reader.GetInt64(1), reader.GetInt64(2));
        }
        return result;
    }

    private static Dictionary<string, long> Moved(SqliteConnection stock) =>
        Pairs(stock, "SELECT item, SUM(quantity) FROM movements GROUP BY item");

    /// <summary>Analytics query "stock left".</summary>
    private static Dictionary<string, long> StockLeft(SqliteConnection stock) =>
        Pairs(stock, "SELECT item, on_hand FROM stock");

    private static Dictionary<string, long> Pairs(SqliteConnection connection, string query)
    {
        using var command = connection.CreateCommand();
        command.CommandText = query;
        using var reader = command.ExecuteReader();
        var result = new Dictionary<string, long>(StringComparer.Ordinal);
        while (reader.Read())
        {
            result[reader.GetString(0)] = reader.GetInt64(1);
        }
        return result;
    }
}

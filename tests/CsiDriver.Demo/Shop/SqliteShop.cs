using CsiDriver.TestSupport;
using CsiDriver.TestSupport.Consistency;
using Microsoft.Data.Sqlite;

namespace CsiDriver.Demo.Shop;

/// <summary>
/// The shop as two real SQLite databases, sales.db on the sales volume's mount and stock.db on
/// the stock volume's mount. Order n is committed in sales.db (one row in <c>orders</c>) and
/// only then in stock.db (its row in <c>movements</c> and the item's <c>stock</c> decremented,
/// one transaction). Both databases run in WAL mode with synchronous=FULL, so a commit returns
/// only once it is on the volume: any crash-consistent image of a volume holds every order
/// committed before the image was cut, and SQLite recovers the WAL when the image is opened.
/// </summary>
public sealed class SqliteShop : IBusinessProcess
{
    public const string SalesFile = "sales.db";
    public const string StockFile = "stock.db";

    private readonly SqliteConnection _sales;
    private readonly SqliteConnection _stock;
    private long _committed;
    private long _latencyMicros;
    private long _latencyCount;

    private SqliteShop(SqliteConnection sales, SqliteConnection stock)
    {
        _sales = sales;
        _stock = stock;
    }

    public string Kind => "SQLite on ext4 mounted through the node path";

    public long Committed => Interlocked.Read(ref _committed);

    public (long Micros, long Count) Latency => (Interlocked.Read(ref _latencyMicros), Interlocked.Read(ref _latencyCount));

    /// <summary>Creates both databases (schema, initial stock) in the two mounted directories.</summary>
    public static SqliteShop Open(string salesDirectory, string stockDirectory)
    {
        var sales = Connect(Path.Combine(salesDirectory, SalesFile), SqliteOpenMode.ReadWriteCreate);
        var stock = Connect(Path.Combine(stockDirectory, StockFile), SqliteOpenMode.ReadWriteCreate);
        Execute(sales, "CREATE TABLE IF NOT EXISTS orders (id INTEGER PRIMARY KEY, item TEXT NOT NULL, quantity INTEGER NOT NULL, placed_at INTEGER NOT NULL)");
        Execute(stock, "CREATE TABLE IF NOT EXISTS stock (item TEXT PRIMARY KEY, on_hand INTEGER NOT NULL)");
        Execute(stock, "CREATE TABLE IF NOT EXISTS movements (order_id INTEGER PRIMARY KEY, item TEXT NOT NULL, quantity INTEGER NOT NULL)");
        using (var seed = stock.BeginTransaction())
        {
            foreach (var item in ShopCatalog.Items)
            {
                Execute(stock, $"INSERT OR IGNORE INTO stock (item, on_hand) VALUES ('{item}', {ShopCatalog.InitialStock})", seed);
            }
            seed.Commit();
        }
        return new SqliteShop(sales, stock);
    }

    /// <summary>A connection in the durability mode the invariant needs (see the type's comment).</summary>
    public static SqliteConnection Connect(string path, SqliteOpenMode mode)
    {
        var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Mode = mode, Pooling = false }.ToString());
        connection.Open();
        Execute(connection, "PRAGMA journal_mode=WAL");
        Execute(connection, "PRAGMA synchronous=FULL");
        return connection;
    }

    public Task<Exception?> RunAsync(int ordersPerSecond, CancellationToken stop) =>
        Task.Factory.StartNew(() => Run(ordersPerSecond, stop), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);

    public ValueTask DisposeAsync()
    {
        _sales.Dispose();
        _stock.Dispose();
        return ValueTask.CompletedTask;
    }

    private Exception? Run(int ordersPerSecond, CancellationToken stop)
    {
        using var sale = Command(_sales, "INSERT INTO orders (id, item, quantity, placed_at) VALUES ($id, $item, $quantity, $at)", "$id", "$item", "$quantity", "$at");
        using var movement = Command(_stock, "INSERT INTO movements (order_id, item, quantity) VALUES ($id, $item, $quantity)", "$id", "$item", "$quantity");
        using var take = Command(_stock, "UPDATE stock SET on_hand = on_hand - $quantity WHERE item = $item", "$item", "$quantity");
        var pace = new SteadyPace(TimeSpan.FromSeconds(1.0 / Math.Max(1, ordersPerSecond)));
        try
        {
            while (!stop.IsCancellationRequested)
            {
                if (pace.UntilDue is { Ticks: > 0 } early)
                {
                    stop.WaitHandle.WaitOne(early);
                    continue;
                }
                pace.Step();
                var order = Committed + 1;
                var item = ShopCatalog.ItemOf(order);
                var quantity = ShopCatalog.QuantityOf(order);
                var started = pace.Elapsed;

                Set(sale, order, item, quantity, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
                sale.ExecuteNonQuery();
                using (var transaction = _stock.BeginTransaction())
                {
                    movement.Transaction = transaction;
                    take.Transaction = transaction;
                    Set(movement, order, item, quantity);
                    movement.ExecuteNonQuery();
                    take.Parameters["$item"].Value = item;
                    take.Parameters["$quantity"].Value = quantity;
                    take.ExecuteNonQuery();
                    transaction.Commit();
                }
                Interlocked.Add(ref _latencyMicros, (long)(pace.Elapsed - started).TotalMicroseconds);
                Interlocked.Increment(ref _latencyCount);
                Interlocked.Exchange(ref _committed, order);
            }
            return null;
        }
        catch (SqliteException e)
        {
            return e;
        }
    }

    private static SqliteCommand Command(SqliteConnection connection, string text, params string[] parameters)
    {
        var command = connection.CreateCommand();
        command.CommandText = text;
        foreach (var name in parameters)
        {
            command.Parameters.Add(new SqliteParameter { ParameterName = name });
        }
        return command;
    }

    private static void Set(SqliteCommand command, params object[] values)
    {
        for (var i = 0; i < values.Length; i++)
        {
            command.Parameters[i].Value = values[i];
        }
    }

    private static void Execute(SqliteConnection connection, string text, SqliteTransaction? transaction = null)
    {
        using var command = connection.CreateCommand();
        command.CommandText = text;
        command.Transaction = transaction;
        command.ExecuteNonQuery();
    }
}

using CsiDriver.Cli;

namespace CsiDriver.Tests.Cli;

public class DriverNamesTests
{
    [Theory]
    [InlineData("formation.csi.dev")]
    [InlineData("a")]
    [InlineData("csi-1.example.com")]
    public void Accepts_domain_names(string name) => Assert.True(DriverNames.IsValid(name));

    [Theory]
    [InlineData("")]
    [InlineData("-leading.dash")]
    [InlineData("trailing.dot.")]
    [InlineData("Upper.Case")]
    [InlineData("under_score")]
    public void Refuses_other_names(string name) => Assert.False(DriverNames.IsValid(name));

    [Fact]
    public void Refuses_names_longer_than_63_characters()
    {
        Assert.True(DriverNames.IsValid(new string('a', 63)));
        Assert.False(DriverNames.IsValid(new string('a', 64)));
    }
}

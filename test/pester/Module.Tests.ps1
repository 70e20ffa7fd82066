# Meta-tests of the module: manifest, exports, one function per file, complete help, locked
# parameter lists, Windows PowerShell 5.1-compatible syntax, and agreement with the TypeScript
# protocol (AzsProtocol.json). None of them needs the daemon.

BeforeDiscovery {
    $moduleRoot = Join-Path $PSScriptRoot '../../module'
    $publicFiles = Get-ChildItem -Path (Join-Path $moduleRoot 'Public') -Filter '*.ps1'
    $commandCases = @($publicFiles | ForEach-Object { @{ Name = $_.BaseName } })
    $moduleFileCases = @(Get-ChildItem -Path $moduleRoot -Recurse -Include '*.ps1', '*.psm1' |
            ForEach-Object { @{ File = $_.FullName; Relative = $_.FullName.Substring((Resolve-Path $moduleRoot).Path.Length + 1) } })
}

BeforeAll {
    . (Join-Path $PSScriptRoot 'TestHelpers.ps1')
    $moduleRoot = Join-Path $script:RepoRoot 'module'
    Import-Module -Name $script:ManifestPath -Force
    $module = Get-Module -Name AzureStackBackup
    $publicNames = @(Get-ChildItem -Path (Join-Path $moduleRoot 'Public') -Filter '*.ps1' | ForEach-Object BaseName | Sort-Object)
    $protocol = Get-Content -Raw -LiteralPath (Join-Path $moduleRoot 'Private/AzsProtocol.json') | ConvertFrom-Json

    # Each cmdlet's own parameters (common ones excluded): changing one is a breaking change.
    $lockedParameters = @{
        'Get-AzsBackup'                              = 'Name', 'Skip', 'Top'
        'Get-AzsBackupAlert'                         = 'State'
        'Get-AzsBackupJob'                           = 'Kind', 'Outcome', 'Top'
        'Get-AzsBackupConfiguration'                 = @()
        'Get-AzsBackupReport'                        = 'Confirm', 'Force', 'OutFile', 'WhatIf'
        'Get-AzsInfrastructureRole'                  = 'Name'
        'Invoke-AzsPruneBackupLocationExternalStore' = 'Confirm', 'OperationType', 'WhatIf'
        'New-AzsBackupEncryptionCertificate'         = 'CerPath', 'Confirm', 'Force', 'PfxPassword', 'PfxPath', 'Subject', 'ValidityYears', 'WhatIf'
        'Register-AzsInfrastructureRole'             = 'BackupScript', 'Confirm', 'Name', 'Path', 'Provider', 'RestoreScript', 'WhatIf'
        'Restore-AzsBackup'                          = 'AcceptBackupRoles', 'AsJob', 'Confirm', 'DecryptionCertPassword', 'DecryptionCertPath', 'Force',
        'InputObject', 'Name', 'NoWait', 'PassThru', 'RoleName', 'WhatIf'
        'Set-AzsBackupConfiguration'                 = 'AsJob', 'Backup', 'BackupFrequencyInHours', 'BackupRetentionPeriodInDays', 'Confirm', 'Credential',
        'EncryptionCertPath', 'Force', 'IsBackupSchedulerEnabled', 'MetricsPath', 'Password', 'Path', 'RequireEncryption', 'UserName', 'WhatIf'
        'Start-AzsBackup'                            = 'AsJob', 'Confirm', 'ErrorOnFailure', 'Force', 'NoWait', 'WhatIf'
        'Test-AzsBackup'                             = 'DecryptionCertPassword', 'DecryptionCertPath', 'ErrorOnFailure', 'Name'
        'Test-AzsBackupShareAccessibility'           = 'Password', 'Path', 'RequireEncryption', 'UserName'
        'Unregister-AzsInfrastructureRole'           = 'Confirm', 'Name', 'PassThru', 'WhatIf'
        'Add-AzsBackupNotificationTarget'            = 'Confirm', 'Kind', 'Name', 'Secret', 'Uri', 'WhatIf'
        'Get-AzsBackupNotificationTarget'            = 'Name'
        'Remove-AzsBackupNotificationTarget'         = 'Confirm', 'Name', 'PassThru', 'WhatIf'
        'Test-AzsBackupNotificationTarget'           = 'Name'
    }
    # Azs.Backup.Admin's scope parameters, on the cmdlets that have them there (AdminScope.Tests.ps1).
    foreach ($name in 'Get-AzsBackup', 'Get-AzsBackupConfiguration', 'Set-AzsBackupConfiguration', 'Start-AzsBackup', 'Restore-AzsBackup') {
        $lockedParameters[$name] = @($lockedParameters[$name]) + @('Location', 'ResourceGroupName', 'SubscriptionId')
    }
    foreach ($name in 'Get-AzsBackup', 'Get-AzsBackupConfiguration', 'Start-AzsBackup') { $lockedParameters[$name] += 'InputObject' }
    $changesState = '^(Set|Start|Restore|Register|Unregister|Invoke|New|Add|Remove)-'
    # SPEC §2: ConfirmImpact Medium for every state-changing cmdlet, High for the one that overwrites live data.
    $confirmImpact = @{ 'Restore-AzsBackup' = 'High' }
    # Get-AzsBackupReport reads the deployment but writes a file, so -WhatIf applies to it too.
    $changesState += '|^Get-AzsBackupReport$'
}

Describe 'The module manifest' {
    It 'is a valid manifest for Windows PowerShell 5.1 and PowerShell 7' {
        $manifest = Test-ModuleManifest -Path $script:ManifestPath -ErrorAction Stop
        $manifest.PowerShellVersion | Should -Be ([version]'5.1')
        $manifest.CompatiblePSEditions | Should -Be @('Core', 'Desktop')
        $manifest.RootModule | Should -Be 'module/AzureStackBackup.psm1'
    }

    It 'lists every public file, and only those, in FunctionsToExport (no wildcards)' {
        $data = Import-PowerShellDataFile -Path $script:ManifestPath
        @($data.FunctionsToExport | Sort-Object) | Should -Be $publicNames
        $data.FunctionsToExport | Should -Not -Match '\*'
    }

    It 'exports exactly the public functions' {
        @($module.ExportedCommands.Keys | Sort-Object) | Should -Be $publicNames
    }

    It 'loads the format and type files' {
        $data = Import-PowerShellDataFile -Path $script:ManifestPath
        $data.FormatsToProcess | Should -Be @('module/AzureStackBackup.Format.ps1xml')
        foreach ($file in @($data.FormatsToProcess) + @($data.TypesToProcess)) {
            Join-Path $script:RepoRoot $file | Should -Exist
        }
    }
}

Describe 'Format views' {
    It 'has a table and a list view for <_>' -ForEach @(
        'BackupLocation', 'Backup', 'ShareTest', 'EncryptionCertificate', 'Role', 'Alert', 'BackupTestResult', 'PruneResult', 'BackupJob',
        'NotificationTarget', 'NotificationTestResult', 'ReportFile'
    ) {
        $typeName = "AzureStackBackup.$_"
        [xml]$formats = Get-Content -Raw -LiteralPath (Join-Path $moduleRoot 'AzureStackBackup.Format.ps1xml')
        $views = @($formats.Configuration.ViewDefinitions.View | Where-Object { $_.ViewSelectedBy.TypeName -eq $typeName })
        @($views | Where-Object { $_.TableControl }).Count | Should -Be 1
        @($views | Where-Object { $_.ListControl }).Count | Should -Be 1
    }
}

Describe 'Times in the format views' {
    It 'labels every column and list item that shows a UTC DateTime "(UTC)"' {
        [xml]$formats = Get-Content -Raw -LiteralPath (Join-Path $moduleRoot 'AzureStackBackup.Format.ps1xml')
        $dates = @(& $module { $script:AzsObjectShapes.Values | ForEach-Object { $_.Dates } } | Sort-Object -Unique)
        $dates | Should -Contain 'CreatedDateTime'
        foreach ($view in $formats.Configuration.ViewDefinitions.View) {
            if ($view.TableControl) {
                $headers = @($view.TableControl.TableHeaders.TableColumnHeader)
                $items = @($view.TableControl.TableRowEntries.TableRowEntry.TableColumnItems.TableColumnItem)
                for ($i = 0; $i -lt $items.Count; $i++) {
                    if ($dates -contains $items[$i].PropertyName) { $headers[$i].Label | Should -Be "$($items[$i].PropertyName) (UTC)" -Because $view.Name }
                }
            }
            foreach ($item in @($view.ListControl.ListEntries.ListEntry.ListItems.ListItem | Where-Object { $_ })) {
                if ($dates -contains $item.PropertyName) { $item.Label | Should -Be "$($item.PropertyName) (UTC)" -Because $view.Name }
            }
        }
    }
}

Describe '<Name>' -ForEach $commandCases {
    BeforeAll {
        $command = Get-Command -Name $Name -Module AzureStackBackup
        $help = Get-Help -Name $Name -Full
        $ownParameters = @($command.Parameters.Keys | Where-Object {
                [System.Management.Automation.PSCmdlet]::CommonParameters -notcontains $_ -and
                [System.Management.Automation.PSCmdlet]::OptionalCommonParameters -notcontains $_ -or $_ -in 'WhatIf', 'Confirm'
            } | Sort-Object)
    }

    It 'is defined alone in a file of its name' {
        $file = Join-Path $moduleRoot "Public/$Name.ps1"
        $ast = [System.Management.Automation.Language.Parser]::ParseFile($file, [ref]$null, [ref]$null)
        $functions = @($ast.FindAll({ param($node) $node -is [System.Management.Automation.Language.FunctionDefinitionAst] }, $false))
        @($functions.Name) | Should -Be @($Name)
    }

    It 'is an advanced function' {
        $command.CmdletBinding | Should -BeTrue
    }

    It 'has a synopsis, a description, inputs and outputs' {
        $help.Synopsis | Should -Not -BeNullOrEmpty
        $help.Synopsis | Should -Not -Match "^\s*$Name\s"
        ($help.Description | Out-String).Trim() | Should -Not -BeNullOrEmpty
        ($help.inputTypes | Out-String).Trim() | Should -Not -BeNullOrEmpty
        ($help.returnValues | Out-String).Trim() | Should -Not -BeNullOrEmpty
    }

    It 'has at least two examples, each with code and a sentence' {
        $examples = @($help.Examples.Example)
        $examples.Count | Should -BeGreaterOrEqual 2
        foreach ($example in $examples) {
            $example.Code | Should -Not -BeNullOrEmpty
            ($example.Remarks | Out-String).Trim() | Should -Match '\w+.*\.'
        }
    }

    It 'documents every parameter Get-Help lists, including WhatIf and Confirm' {
        foreach ($parameter in @($help.Parameters.Parameter)) {
            if (-not $parameter) { continue }
            ($parameter.Description | Out-String).Trim() | Should -Not -BeNullOrEmpty -Because "-$($parameter.Name) needs a description"
        }
        $documented = @($help.Parameters.Parameter | Where-Object { $_ } | ForEach-Object Name | Sort-Object)
        $documented | Should -Be $ownParameters
    }

    It 'keeps its parameter list' {
        $ownParameters | Should -Be @($lockedParameters[$Name] | Sort-Object)
    }

    It 'supports ShouldProcess (ConfirmImpact Medium, High for Restore-) exactly when it changes state' {
        $changes = $Name -match $changesState
        $command.Parameters.ContainsKey('WhatIf') | Should -Be $changes
        if ($changes) {
            $attribute = $command.ScriptBlock.Attributes | Where-Object { $_ -is [System.Management.Automation.CmdletBindingAttribute] }
            $expected = 'Medium'
            if ($confirmImpact.ContainsKey($Name)) { $expected = $confirmImpact[$Name] }
            $attribute.ConfirmImpact | Should -Be $expected
        }
    }

    It 'has a Pester test besides the meta-tests' {
        $testFiles = Get-ChildItem -Path $PSScriptRoot -Filter '*.Tests.ps1' | Where-Object Name -ne 'Module.Tests.ps1'
        @($testFiles | Select-String -SimpleMatch -Pattern $Name).Count | Should -BeGreaterThan 0
    }
}

Describe 'Set-AzsBackupConfiguration ranges' {
    It 'leaves range checks to the daemon, whose message names both bounds (no [ValidateRange])' {
        $command = Get-Command -Name Set-AzsBackupConfiguration
        foreach ($name in 'BackupFrequencyInHours', 'BackupRetentionPeriodInDays') {
            $command.Parameters[$name].Attributes | Where-Object { $_ -is [System.Management.Automation.ValidateRangeAttribute] } |
                Should -BeNullOrEmpty
        }
    }
}

Describe 'module/<Relative>' -ForEach $moduleFileCases {
    BeforeAll {
        $tokens = $null
        $parseErrors = $null
        $ast = [System.Management.Automation.Language.Parser]::ParseFile($File, [ref]$tokens, [ref]$parseErrors)
        function Find-Node([scriptblock] $Predicate) { @($ast.FindAll($Predicate, $true)) }
    }

    It 'parses without errors' {
        $parseErrors | Should -BeNullOrEmpty
    }

    It 'uses no PowerShell 7-only syntax (ternary, && / ||, ??, ??=, ?. ?[], clean blocks)' {
        $ast7 = 'System.Management.Automation.Language'
        Find-Node { param($n) $n.GetType().FullName -in "$ast7.TernaryExpressionAst", "$ast7.PipelineChainAst" } | Should -BeNullOrEmpty
        Find-Node { param($n) $n -is [System.Management.Automation.Language.BinaryExpressionAst] -and $n.Operator -eq 'QuestionQuestion' } |
            Should -BeNullOrEmpty
        Find-Node { param($n) $n -is [System.Management.Automation.Language.AssignmentStatementAst] -and $n.Operator -eq 'QuestionQuestionEquals' } |
            Should -BeNullOrEmpty
        Find-Node { param($n) ($n -is [System.Management.Automation.Language.MemberExpressionAst] -or
                $n -is [System.Management.Automation.Language.IndexExpressionAst]) -and $n.NullConditional } | Should -BeNullOrEmpty
        Find-Node { param($n) $n -is [System.Management.Automation.Language.ScriptBlockAst] -and $n.CleanBlock } | Should -BeNullOrEmpty
    }

    It 'never throws plain text (errors are ErrorRecords with an id)' {
        Find-Node { param($n) $n -is [System.Management.Automation.Language.ThrowStatementAst] -and $n.Pipeline -and
            $n.Pipeline.Find({ param($s) $s -is [System.Management.Automation.Language.StringConstantExpressionAst] -or
                    $s -is [System.Management.Automation.Language.ExpandableStringExpressionAst] }, $true) } | Should -BeNullOrEmpty
    }

    It 'never uses Add-Type or compiled code' {
        Find-Node { param($n) $n -is [System.Management.Automation.Language.CommandAst] -and $n.GetCommandName() -eq 'Add-Type' } |
            Should -BeNullOrEmpty
    }
}

Describe 'Agreement with the TypeScript protocol (AzsProtocol.json)' {
    It 'calls only methods the protocol defines' {
        $calls = Select-String -Path (Join-Path $moduleRoot 'Public/*.ps1') -Pattern "-Method '([a-z.]+)'" -AllMatches |
            ForEach-Object { $_.Matches } | ForEach-Object { $_.Groups[1].Value } | Sort-Object -Unique
        $calls | Should -Not -BeNullOrEmpty
        foreach ($method in $calls) { $protocol.methods.PSObject.Properties.Name | Should -Contain $method }
    }

    It 'maps every reason of the error table to a real ErrorCategory and the id AzsBackup.<reason>' {
        foreach ($entry in $protocol.errors.PSObject.Properties) {
            { [System.Management.Automation.ErrorCategory]$entry.Value.category } | Should -Not -Throw
            $entry.Value.id | Should -Be "AzsBackup.$($entry.Name)"
            $record = & $module { param($reason) New-AzsErrorRecord -Reason $reason -Message 'm' } $entry.Name
            $record.FullyQualifiedErrorId | Should -Be "AzsBackup.$($entry.Name)"
            $record.CategoryInfo.Category | Should -Be $entry.Value.category
        }
    }
}
